package dev.fleet.engine.cli;

import dev.fleet.engine.family.DitStorageRequest;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --model DIR [--dit FILE] [--dit-storage fp8|native]}: which model a command reads, and how
 * its DiT's blocks are held (a picocli mixin).
 */
final class ModelOptions {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      description =
          "model directory: the FLUX.1-dev layout, or NewBie-image's (transformer/, text_encoder/,"
              + " tokenizer/, clip_model/, clip_tokenizer/, vae/) (default: FLEET_MODEL or the"
              + " bundled model)")
  String model;

  @Option(
      names = "--dit",
      paramLabel = "FILE",
      description = "DiT checkpoint inside DIR/transformer/ (or an absolute path)")
  String dit;

  @Option(
      names = "--dit-storage",
      paramLabel = "fp8|native",
      description =
          "how the DiT's blocks are held: native (as the checkpoint stores them, the default) or"
              + " fp8 (NewBie-image: a 16/32-bit checkpoint's block matrices narrowed to e4m3fn"
              + " with a per-tensor scale when loaded, and planned so; FLUX: only an fp8"
              + " checkpoint)")
  String ditStorage;

  /** {@code --dit-storage}, {@link DitStorageRequest#NATIVE} when not given. */
  DitStorageRequest ditStorage() {
    if (ditStorage == null) {
      return DitStorageRequest.NATIVE;
    }
    try {
      return DitStorageRequest.parse(ditStorage);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--dit-storage: " + e.getMessage());
    }
  }

  /** Whether either option was given. */
  boolean given() {
    return model != null || dit != null;
  }

  /** The model directory: {@code --model}, else {@code FLEET_MODEL} as the launcher passes it. */
  Path path() {
    String dir = model != null ? model : System.getProperty("fleet.default.model");
    if (dir == null) {
      throw new UsageException("missing --model DIR (or FLEET_MODEL)");
    }
    return Path.of(dir);
  }

  /** Where the model is, for its family to recognise and read. */
  ModelLocation location() {
    return new ModelLocation(path(), dit);
  }

  /** The model directory resolved in FLUX's layout, with the DiT file {@code --dit} names. */
  ModelDirectory resolve() {
    return ModelDirectory.resolve(path(), dit);
  }
}
