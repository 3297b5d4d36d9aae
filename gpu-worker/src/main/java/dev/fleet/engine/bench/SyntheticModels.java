package dev.fleet.engine.bench;

import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.synthetic.DitStorage;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.synthetic.SyntheticModelWriter;
import dev.fleet.model.memory.StorageType;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Model directories of random weights for whole-job benchmarks: a preset written once with the
 * bundled model's tokenizers (word-level, so their ids fit any preset's vocabularies), the DiT as
 * the benchmark stores it (float8 e4m3fn blocks, or bfloat16 widened to float16), the text encoders
 * in bfloat16 as the released checkpoints ship them.
 */
public final class SyntheticModels {
  /**
   * Prompts of the bundled tokenizers' words, one per job in turn: each job encodes its own (the
   * prompt-embedding cache would serve a repeated one without running the text encoders).
   */
  public static final java.util.List<String> PROMPTS =
      java.util.List.of(
          "a red circle on the left and a blue square on the right",
          "a large green triangle on a black background",
          "a small yellow square above a purple circle");

  private SyntheticModels() {}

  /**
   * The model directory in {@code dir}: read when it holds one (a synthetic model written before,
   * or real files), otherwise {@code shape} written there first (seed 0) — into {@code
   * DIR.partial}, moved to {@code dir} once complete.
   *
   * @throws IllegalStateException when the bundled model (system property {@code
   *     fleet.default.model}) is not found for its tokenizers
   */
  public static ModelDirectory writeUnlessPresent(
      ModelShape shape, StorageType storage, Path dir, PrintStream log) throws IOException {
    if (Files.isDirectory(dir.resolve("transformer"))) {
      log.println("engine: bench: using the model in " + dir);
      return ModelDirectory.resolve(dir, null);
    }
    String bundled = System.getProperty("fleet.default.model");
    if (bundled == null || !Files.isDirectory(Path.of(bundled).resolve("tokenizer"))) {
      throw new IllegalStateException(
          "the bundled model (fleet.default.model) is needed for its tokenizers, got " + bundled);
    }
    // Written beside the target and moved into place when complete, so that an interrupted
    // write (a killed run, a full disk) is never taken for a model by the next run.
    Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
    if (Files.exists(partial)) {
      deleteQuietly(partial);
    }
    long start = System.nanoTime();
    SyntheticModelWriter.of(shape, Path.of(bundled))
        .withDitStorage(storage == StorageType.FP8 ? DitStorage.F8_E4M3 : DitStorage.BF16)
        .withTextStorage(DType.BF16)
        .write(partial);
    if (Files.isDirectory(dir)) {
      Files.delete(dir); // empty (it holds no transformer/); a non-empty one fails here, unharmed
    }
    Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    log.printf(
        "engine: bench: wrote %s (random weights) to %s in %.1f s%n",
        shape.name(), dir, (System.nanoTime() - start) / 1e9);
    return ModelDirectory.resolve(dir, null);
  }

  /** Removes a directory tree, ignoring what cannot be removed. */
  public static void deleteQuietly(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temporary directory: the system cleans up what is left
    }
  }
}
