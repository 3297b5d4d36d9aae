package dev.fleet.engine.nextdit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Which checkpoint of a component directory to open: the only {@code .safetensors} file, else the
 * only one not named as a reduced-precision copy ({@code bf16}, {@code fp16}, {@code fp8}), else
 * the directory itself (a shard index, which {@code TensorStore.open} prefers, or an error naming
 * the directory).
 */
final class CheckpointPaths {
  private CheckpointPaths() {}

  static Path in(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("no such component directory: " + dir);
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
    if (files.size() == 1) {
      return files.get(0);
    }
    List<Path> full =
        files.stream()
            .filter(
                p -> {
                  String n = p.getFileName().toString();
                  return !n.contains("bf16") && !n.contains("fp8") && !n.contains("fp16");
                })
            .toList();
    return full.size() == 1 ? full.get(0) : dir;
  }
}
