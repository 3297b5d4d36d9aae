package dev.fleet.engine.checkpoint;

import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Path;

/**
 * Where one component's weights are: a checkpoint of its own (file, shard index or directory), or
 * the tensors under a prefix inside another file (a component of an all-in-one file, see {@link
 * EmbeddedComponent}).
 *
 * @param path the file, index or directory
 * @param prefix "" for a checkpoint of its own, else the prefix its tensors carry in {@code path}
 */
public record ComponentWeights(Path path, String prefix) {

  public ComponentWeights {
    if (path == null || prefix == null) {
      throw new IllegalArgumentException("a component's weights need a path and a prefix");
    }
  }

  /** A checkpoint of its own. */
  public static ComponentWeights of(Path path) {
    return new ComponentWeights(path, "");
  }

  /** True when the weights are part of another file. */
  public boolean embedded() {
    return !prefix.isEmpty();
  }

  /**
   * The tensors, under their names without the prefix, their encoding read as {@link
   * ScaledFloat8Store} reads it (ComfyUI's scaled float8 encoders, e.g. {@code
   * t5xxl_fp8_e4m3fn_scaled}, in all-in-one files or folders: their scales are applied, never
   * ignored). Closing the store closes the file.
   */
  public TensorStore open() {
    TensorStore file = CheckpointFile.open(path);
    try {
      TensorStore named = embedded() ? new PrefixedStore(file, prefix, true) : file;
      return ScaledFloat8Store.of(named, prefix, false);
    } catch (RuntimeException e) {
      file.close();
      throw e;
    }
  }

  /** For messages and cache keys: the path, and the prefix when embedded. */
  public String describe() {
    Path p = path.toAbsolutePath().normalize();
    return embedded() ? p + " [" + prefix + "]" : p.toString();
  }
}
