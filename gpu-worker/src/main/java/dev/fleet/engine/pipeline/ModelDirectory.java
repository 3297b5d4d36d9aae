package dev.fleet.engine.pipeline;

import dev.fleet.engine.flux.DiffusersFluxView;
import dev.fleet.engine.safetensors.SafetensorsFile;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where the parts of a FLUX model live, in the FLUX.1-dev layout: {@code transformer/} (a BFL
 * single file or diffusers shards), {@code vae/} or {@code ae.safetensors}, {@code text_encoder/},
 * {@code text_encoder_2/}, {@code tokenizer/}, {@code tokenizer_2/}. Resolving checks that every
 * part exists and names what is missing.
 *
 * @param transformer a safetensors file or a shard index
 * @param vae a safetensors file or a directory holding one
 */
public record ModelDirectory(
    Path root,
    Path transformer,
    Path vae,
    Path clip,
    Path t5,
    Path clipTokenizer,
    Path t5Tokenizer) {

  /** The model's name: its directory's name (what PNG metadata and job records show). */
  public String name() {
    Path f = root.toAbsolutePath().normalize().getFileName();
    return f == null ? root.toString() : f.toString();
  }

  /** The DiT checkpoint in the BFL key layout, whatever layout it was saved in. */
  public TensorStore openTransformer() {
    return DiffusersFluxView.inBflLayout(TensorStore.open(transformer));
  }

  /**
   * @param dit a file name inside {@code transformer/}, an absolute path, or null to take the
   *     single checkpoint there
   */
  public static ModelDirectory resolve(Path root, String dit) {
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException(
          "model directory " + root + " does not exist or is not a directory");
    }
    Path transformer = resolveTransformer(root, dit);
    Path vae = firstExisting(root, "vae", "ae.safetensors");
    return new ModelDirectory(
        root,
        transformer,
        vae,
        required(root, "text_encoder"),
        required(root, "text_encoder_2"),
        required(root, "tokenizer"),
        required(root, "tokenizer_2"));
  }

  private static Path resolveTransformer(Path root, String dit) {
    Path dir = root.resolve("transformer");
    if (dit != null) {
      Path p = Path.of(dit).isAbsolute() ? Path.of(dit) : dir.resolve(dit);
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException("--dit " + dit + ": no such file " + p);
      }
      return p;
    }
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("model directory " + root + " has no transformer/ folder");
    }
    List<Path> indexes = list(dir, ".safetensors.index.json");
    if (indexes.size() == 1) {
      return indexes.get(0);
    }
    List<Path> files = list(dir, ".safetensors");
    if (files.size() == 1) {
      return files.get(0);
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException(dir + " holds no .safetensors checkpoint");
    }
    return widest(dir, files);
  }

  /**
   * Of several checkpoints (one model saved at several storage precisions, as the bundled model is)
   * the one stored widest; a tie is ambiguous and must be settled with --dit.
   */
  private static Path widest(Path dir, List<Path> files) {
    Path best = null;
    int bestBytes = -1;
    boolean tie = false;
    for (Path f : files) {
      int bytes = storageBytes(f);
      if (bytes > bestBytes) {
        best = f;
        bestBytes = bytes;
        tie = false;
      } else if (bytes == bestBytes) {
        tie = true;
      }
    }
    if (tie) {
      throw new IllegalArgumentException(
          dir
              + " holds several checkpoints "
              + files.stream().map(p -> p.getFileName().toString()).toList()
              + ": pick one with --dit FILE");
    }
    return best;
  }

  /** Bytes per element of the input projection, which every DiT checkpoint has. */
  private static int storageBytes(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      for (String key : List.of("img_in.weight", "x_embedder.weight")) {
        if (f.contains(key)) {
          return f.entry(key).dtype().bytes();
        }
      }
      return 0;
    }
  }

  private static List<Path> list(Path dir, String suffix) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  private static Path required(Path root, String name) {
    Path p = root.resolve(name);
    if (!Files.exists(p)) {
      throw new IllegalArgumentException("model directory " + root + " has no " + name + "/");
    }
    return p;
  }

  private static Path firstExisting(Path root, String... names) {
    for (String n : names) {
      Path p = root.resolve(n);
      if (Files.exists(p)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "model directory " + root + " has none of " + List.of(names));
  }
}
