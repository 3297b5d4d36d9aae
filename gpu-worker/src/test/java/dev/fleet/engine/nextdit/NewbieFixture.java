package dev.fleet.engine.nextdit;

import static dev.fleet.engine.TensorAsserts.floats;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

/** The newbie-tiny reference fixture: paths, case.json and named reference tensors. */
final class NewbieFixture {
  private NewbieFixture() {}

  static final Path DIR = Path.of("src/test/resources/fixtures/newbie-tiny");
  static final Path TRANSFORMER = DIR.resolve("transformer");
  static final Path EXPECTED = DIR.resolve("expected.safetensors");
  static final Path EXPECTED_PNG = DIR.resolve("expected.png");

  /** The VAE the fixture names (flux-tiny's, kept once in the repository). */
  static final Path VAE = Path.of("models/flux-tiny/vae/ae.safetensors");

  static JsonNode caseJson() {
    try {
      return new ObjectMapper().readTree(DIR.resolve("case.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Writes the fixture's transformer as an fp8 checkpoint — its noise-refiner and joint blocks'
   * matrices rounded to e4m3fn (unscaled), everything else float32 — with its config beside it.
   *
   * @return the checkpoint, {@code dir/transformer/newbie-fp8.safetensors}
   */
  static Path writeFp8Transformer(Path dir) throws IOException {
    Path file = dir.resolve("transformer").resolve("newbie-fp8.safetensors");
    Files.createDirectories(file.getParent());
    Files.copy(TRANSFORMER.resolve("config.json"), file.resolveSibling("config.json"));
    try (TensorStore source = TensorStore.open(TRANSFORMER.resolve("newbie.safetensors"))) {
      SafetensorsWriter out = new SafetensorsWriter();
      for (String name : new TreeSet<>(source.names())) {
        TensorEntry e = source.entry(name);
        boolean blockMatrix =
            (name.startsWith("layers.") || name.startsWith("noise_refiner."))
                && e.shape().length == 2;
        DType dtype = blockMatrix ? DType.F8_E4M3 : DType.F32;
        out.add(name, dtype, e.shape(), Narrowing.encode(floats(source, name), dtype));
      }
      out.write(file);
    }
    return file;
  }

  /** A reference tensor as stored (F32 as float32, I64 as int64) on {@code m}. */
  static NDArray load(TensorStore expected, String name, NDManager m) {
    return new Weights(expected, ComputeTarget.cpu()).load(name, m);
  }

  /** Relative L2 error of {@code actual} against the reference tensor {@code name}. */
  static double relErr(TensorStore expected, String name, NDArray actual) {
    return TensorAssert.relErr(floats(expected, name), floats(actual));
  }
}
