package dev.fleet.engine.checkpoint;

import dev.fleet.engine.gguf.GgufFile;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a checkpoint in any container the engine reads: safetensors (a file, a shard index or a
 * directory, see {@link TensorStore#open}) or a GGUF file (recognised by its magic, see {@link
 * GgufFile}). Other containers (PyTorch zip archives, pickles) are refused by name.
 */
public final class CheckpointFile {
  private CheckpointFile() {}

  public static TensorStore open(Path path) {
    if (Files.isRegularFile(path) && GgufFile.isGguf(path)) {
      return GgufFile.open(path);
    }
    return TensorStore.open(path);
  }
}
