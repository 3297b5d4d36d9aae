package dev.fleet.engine.cli;

import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --model DIR [--dit FILE]}: which model a command reads (a picocli mixin). */
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
