package dev.fleet.engine.vae;

import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds and loads the autoencoder of a model directory laid out as FLUX.1-dev: {@code
 * vae/*.safetensors} (diffusers or BFL layout) or, failing that, {@code ae.safetensors} at the root
 * (BFL's single file).
 */
public final class VaeLoader {
  private VaeLoader() {}

  /**
   * The autoencoder checkpoint of {@code modelDirOrFile}: the path itself when it is a file, else
   * the only {@code .safetensors} file in {@code vae/}, else {@code ae.safetensors} at the root.
   *
   * @throws IllegalArgumentException naming the directory and what was looked for
   */
  public static Path findCheckpoint(Path modelDirOrFile) {
    if (Files.isRegularFile(modelDirOrFile)) {
      return modelDirOrFile;
    }
    if (!Files.isDirectory(modelDirOrFile)) {
      throw new IllegalArgumentException("no such model directory or VAE file: " + modelDirOrFile);
    }
    Path vaeDir = modelDirOrFile.resolve("vae");
    if (Files.isDirectory(vaeDir)) {
      List<Path> files = safetensorsIn(vaeDir);
      if (files.size() == 1) {
        return files.get(0);
      }
      if (files.size() > 1) {
        throw new IllegalArgumentException(
            vaeDir + " holds several checkpoints " + files + "; pass the one to use as the file");
      }
    }
    Path root = modelDirOrFile.resolve("ae.safetensors");
    if (Files.isRegularFile(root)) {
      return root;
    }
    throw new IllegalArgumentException(
        "no autoencoder in "
            + modelDirOrFile
            + ": looked for vae/*.safetensors and ae.safetensors");
  }

  /**
   * Loads the autoencoder of a model directory (or a checkpoint file). The parameters come from a
   * {@code config.json} beside a checkpoint inside {@code vae/} or given as a file (BFL or
   * diffusers format); a model root's {@code config.json} belongs to the model, so a root {@code
   * ae.safetensors} has its parameters inferred from its shapes.
   */
  public static AutoEncoder load(Path modelDirOrFile, ComputeTarget target) {
    Path checkpoint = findCheckpoint(modelDirOrFile);
    try (TensorStore store = TensorStore.open(checkpoint)) {
      return AutoEncoder.load(store, params(modelDirOrFile, checkpoint, store), target);
    }
  }

  /**
   * The parameters {@link #load} would load the autoencoder of {@code modelDirOrFile} with, read
   * from its config and headers without loading a weight (for a caller that loads it later).
   */
  public static AutoEncoderParams params(Path modelDirOrFile) {
    Path checkpoint = findCheckpoint(modelDirOrFile);
    try (TensorStore store = TensorStore.open(checkpoint)) {
      return params(modelDirOrFile, checkpoint, store);
    }
  }

  private static AutoEncoderParams params(Path modelDirOrFile, Path checkpoint, TensorStore store) {
    boolean rootFile =
        Files.isDirectory(modelDirOrFile)
            && checkpoint.equals(modelDirOrFile.resolve("ae.safetensors"));
    Path config = rootFile ? null : checkpoint.resolveSibling("config.json");
    return AutoEncoderParams.infer(store, config);
  }

  private static List<Path> safetensorsIn(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
  }
}
