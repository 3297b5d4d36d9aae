package dev.fleet.engine.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Named tensors of one checkpoint, which may span several files. Bytes are memory-mapped on demand,
 * so a store over a 24 GB checkpoint costs only its headers until tensors are read.
 */
public interface TensorStore extends AutoCloseable {

  /** Names of all tensors, in a stable order. */
  Set<String> names();

  /** True when the store holds the named tensor. */
  default boolean contains(String name) {
    return names().contains(name);
  }

  /**
   * The entry of a tensor.
   *
   * @throws SafetensorsException naming the store and key when it is missing
   */
  TensorEntry entry(String name);

  /** Read-only little-endian view of the tensor's bytes (memory-mapped, no copy). */
  ByteBuffer bytes(String name);

  /**
   * The factor the stored values of a tensor are multiplied by to give its values: 1 for a plain
   * tensor, the per-tensor scale of a scaled float8 weight (ComfyUI's {@code scale_weight} or
   * {@code weight_scale}, see {@code dev.fleet.engine.checkpoint.ScaledFloat8Store}). Readers that
   * widen stored values must apply it.
   */
  default float valueScale(String name) {
    entry(name); // a missing tensor is an error here too
    return 1f;
  }

  /**
   * The {@code __metadata__} string map of the header(s) (empty when there is none); a store over
   * several files merges theirs.
   */
  default java.util.Map<String, String> metadata() {
    return java.util.Map.of();
  }

  /** Human-readable origin for error messages. */
  String describe();

  @Override
  void close();

  /**
   * Opens a checkpoint: a {@code .safetensors} file, a {@code *.index.json} shard index, or a
   * directory holding either (an index takes precedence over single files; several unindexed files
   * are merged).
   */
  static TensorStore open(Path path) {
    if (!Files.exists(path)) {
      throw new SafetensorsException(path.toString(), null, "no such file or directory");
    }
    if (Files.isDirectory(path)) {
      List<Path> indexes;
      List<Path> files;
      try (Stream<Path> s = Files.list(path)) {
        List<Path> all = s.sorted().toList();
        indexes =
            all.stream()
                .filter(p -> p.getFileName().toString().endsWith(".safetensors.index.json"))
                .toList();
        files =
            all.stream().filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList();
      } catch (IOException e) {
        throw new SafetensorsException(path.toString(), "cannot list directory", e);
      }
      if (indexes.size() == 1) {
        return ShardedTensorStore.fromIndex(indexes.get(0));
      }
      if (files.isEmpty()) {
        throw new SafetensorsException(path.toString(), null, "no .safetensors files in directory");
      }
      if (files.size() == 1) {
        return SafetensorsFile.open(files.get(0));
      }
      List<TensorStore> parts = new ArrayList<>();
      for (Path f : files) {
        parts.add(SafetensorsFile.open(f));
      }
      return new ShardedTensorStore(path.toString(), parts);
    }
    if (path.getFileName().toString().endsWith(".index.json")) {
      return ShardedTensorStore.fromIndex(path);
    }
    return SafetensorsFile.open(path);
  }
}
