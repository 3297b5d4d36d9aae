package dev.fleet.engine.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a model is, before any family has read it: its directory and, optionally, the denoiser's
 * checkpoint ({@code --dit}: a file name inside {@code transformer/} or an absolute path). Each
 * family resolves its own layout from it (FLUX's is {@link ModelDirectory}), so that a directory in
 * another family's layout can be recognised and loaded at all.
 *
 * @param dit the denoiser's checkpoint, or null for the one the family finds in the directory
 */
public record ModelLocation(Path root, String dit) {
  public ModelLocation {
    Objects.requireNonNull(root, "root");
  }

  /** A model directory alone. */
  public static ModelLocation of(Path root) {
    return new ModelLocation(root, null);
  }

  /** Where a resolved FLUX model directory is: its root and its transformer file. */
  public static ModelLocation of(ModelDirectory model) {
    return new ModelLocation(model.root(), model.transformer().toAbsolutePath().toString());
  }

  /** The model's name: its directory's name (what PNG metadata and job records show). */
  public String name() {
    Path f = root.toAbsolutePath().normalize().getFileName();
    return f == null ? root.toString() : f.toString();
  }

  /**
   * The denoiser's checkpoint named by {@code dit} ({@code --dit}): an absolute path, or a file
   * name inside {@code root/transformer/}; empty when {@code dit} is null.
   *
   * @throws IllegalArgumentException the named file does not exist
   */
  public static Optional<Path> namedTransformer(Path root, String dit) {
    if (dit == null) {
      return Optional.empty();
    }
    Path p = Path.of(dit).isAbsolute() ? Path.of(dit) : root.resolve("transformer").resolve(dit);
    if (!Files.isRegularFile(p)) {
      throw new IllegalArgumentException("--dit " + dit + ": no such file " + p);
    }
    return Optional.of(p);
  }

  /**
   * {@code root/transformer/}, where a family looks for the denoiser's checkpoint when none is
   * named.
   *
   * @throws IllegalArgumentException the directory has no such folder
   */
  public static Path transformerDir(Path root) {
    Path dir = root.resolve("transformer");
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("model directory " + root + " has no transformer/ folder");
    }
    return dir;
  }
}
