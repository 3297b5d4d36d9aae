package dev.fleet.engine;

import java.nio.file.Path;

/** Paths of the bundled models and the reference outputs computed from the random-weight one. */
public final class Fixtures {
  private Fixtures() {}

  /**
   * The random-weight reference model directory (module-relative; surefire runs in the module
   * directory).
   */
  public static final Path MODEL = Path.of("models/flux-tiny");

  /** The bundled trained model (gpu-worker/training/train_shapes.py made it). */
  public static final Path SHAPES_MODEL = Path.of("models/flux-shapes");

  /** Reference outputs of the official implementations for {@link #MODEL}. */
  public static final Path EXPECTED =
      Path.of("src/test/resources/fixtures/flux-tiny/expected.safetensors");

  public static final Path EXPECTED_PNG =
      Path.of("src/test/resources/fixtures/flux-tiny/expected.png");

  public static final Path CASE = Path.of("src/test/resources/fixtures/flux-tiny/case.json");
}
