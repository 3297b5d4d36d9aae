package dev.fleet.engine;

import java.nio.file.Path;

/** Paths of the bundled tiny model and the reference outputs computed from it. */
public final class Fixtures {
  private Fixtures() {}

  /** The bundled model directory (module-relative; surefire runs in the module directory). */
  public static final Path MODEL = Path.of("models/flux-tiny");

  /** Reference outputs of the official implementations for {@link #MODEL}. */
  public static final Path EXPECTED =
      Path.of("src/test/resources/fixtures/flux-tiny/expected.safetensors");

  public static final Path EXPECTED_PNG =
      Path.of("src/test/resources/fixtures/flux-tiny/expected.png");

  public static final Path CASE = Path.of("src/test/resources/fixtures/flux-tiny/case.json");
}
