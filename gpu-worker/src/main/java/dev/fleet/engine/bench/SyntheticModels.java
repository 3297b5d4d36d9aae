package dev.fleet.engine.bench;

import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.synthetic.DitStorage;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.synthetic.NewbieModelWriter;
import dev.fleet.engine.synthetic.SyntheticModelWriter;
import dev.fleet.model.memory.NewbieDims;
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
 * Model directories of random weights for whole-job benchmarks: a FLUX preset written once with the
 * bundled model's tokenizers (word-level, so their ids fit any preset's vocabularies), a NewBie
 * preset with {@link NewbieModelWriter}'s bundled tokenizers, the DiT as the benchmark stores it
 * (float8 e4m3fn blocks, or bfloat16 widened to float16), the text encoders in bfloat16 as the
 * released checkpoints ship them.
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
    if (!isPresent(dir, log)) {
      String bundled = System.getProperty("fleet.default.model");
      if (bundled == null || !Files.isDirectory(Path.of(bundled).resolve("tokenizer"))) {
        throw new IllegalStateException(
            "the bundled model (fleet.default.model) is needed for its tokenizers, got " + bundled);
      }
      writeInPlace(
          shape.name(),
          dir,
          log,
          partial ->
              SyntheticModelWriter.of(shape, Path.of(bundled))
                  .withDitStorage(ditStorage(storage))
                  .withTextStorage(DType.BF16)
                  .write(partial));
    }
    return ModelDirectory.resolve(dir, null);
  }

  /**
   * The model in {@code dir}: used as it is when it holds one (its family is the caller's to
   * check), otherwise the NewBie preset {@code dims} written there first (seed 0, {@link
   * NewbieModelWriter}'s bundled tokenizers) as FLUX's presets are, the DiT as the benchmark stores
   * it, the text encoders in bfloat16.
   */
  public static ModelLocation writeNewbieUnlessPresent(
      NewbieDims dims, StorageType storage, Path dir, PrintStream log) throws IOException {
    if (!isPresent(dir, log)) {
      writeInPlace(
          dims.name(),
          dir,
          log,
          partial ->
              NewbieModelWriter.of(dims)
                  .withDitStorage(ditStorage(storage))
                  .withTextStorage(DType.BF16)
                  .write(partial));
    }
    return ModelLocation.of(dir);
  }

  /** Writes a model into a directory it is then moved to. */
  @FunctionalInterface
  private interface Writer {
    void write(Path dir) throws IOException;
  }

  private static DitStorage ditStorage(StorageType storage) {
    return storage == StorageType.FP8 ? DitStorage.F8_E4M3 : DitStorage.BF16;
  }

  /**
   * Whether {@code dir} holds a model already (its {@code transformer/}: the write's last move).
   */
  private static boolean isPresent(Path dir, PrintStream log) {
    if (Files.isDirectory(dir.resolve("transformer"))) {
      log.println("engine: bench: using the model in " + dir);
      return true;
    }
    return false;
  }

  /**
   * Writes into {@code DIR.partial} beside the target and moves it into place when complete, so
   * that an interrupted write (a killed run, a full disk) is never taken for a model by the next
   * run.
   */
  private static void writeInPlace(String name, Path dir, PrintStream log, Writer writer)
      throws IOException {
    Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
    if (Files.exists(partial)) {
      deleteQuietly(partial);
    }
    long start = System.nanoTime();
    writer.write(partial);
    if (Files.isDirectory(dir)) {
      Files.delete(dir); // empty (it holds no transformer/); a non-empty one fails here, unharmed
    }
    Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    log.printf(
        "engine: bench: wrote %s (random weights) to %s in %.1f s%n",
        name, dir, (System.nanoTime() - start) / 1e9);
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
