package dev.fleet.engine.model;

import java.nio.file.Path;
import java.util.Objects;

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
}
