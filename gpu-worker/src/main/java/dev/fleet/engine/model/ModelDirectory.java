package dev.fleet.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.checkpoint.CheckpointFile;
import dev.fleet.engine.checkpoint.ComponentWeights;
import dev.fleet.engine.checkpoint.DitCheckpoint;
import dev.fleet.engine.checkpoint.EmbeddedComponent;
import dev.fleet.engine.checkpoint.UnrecognisedCheckpointException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.ClipTextModel;
import dev.fleet.engine.text.StreamedT5Encoder;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.text.T5Encoder;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.vae.VaeLoader;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the parts of a FLUX model live, in the FLUX.1-dev layout: {@code transformer/} (a BFL
 * single file or diffusers shards), {@code vae/} or {@code ae.safetensors}, {@code text_encoder/},
 * {@code text_encoder_2/}, {@code tokenizer/}, {@code tokenizer_2/}. The transformer may also be a
 * file elsewhere ({@code --dit /abs/path}) in any layout {@link DitCheckpoint} reads; when it is a
 * ComfyUI all-in-one file, the components it holds ({@link EmbeddedComponent}) are taken from it
 * and the rest (tokenizers and encoder configs always) from the directory. Resolving checks that
 * every part exists and names what is missing.
 *
 * @param transformer a safetensors file or a shard index
 * @param vae the autoencoder's checkpoint: {@code vae/*.safetensors} or {@code ae.safetensors}, or
 *     the transformer file when that holds the autoencoder
 * @param clip CLIP's folder (its config.json; its weights unless the transformer file holds them)
 * @param t5 T5's folder (as {@code clip})
 * @param vaeWeights where the autoencoder's weights are
 * @param clipWeights where CLIP's weights are
 * @param t5Weights where T5's weights are
 */
public record ModelDirectory(
    Path root,
    Path transformer,
    Path vae,
    Path clip,
    Path t5,
    Path clipTokenizer,
    Path t5Tokenizer,
    ComponentWeights vaeWeights,
    ComponentWeights clipWeights,
    ComponentWeights t5Weights) {

  private static final Logger LOG = LoggerFactory.getLogger(ModelDirectory.class);

  /** The model's name: its directory's name (what PNG metadata and job records show). */
  public String name() {
    return ModelLocation.of(root).name();
  }

  /** The DiT checkpoint in the BFL key layout, whatever layout and encoding it was saved in. */
  public TensorStore openTransformer() {
    return DitCheckpoint.open(transformer);
  }

  /**
   * The transformer's {@code config.json}, or null to infer its parameters from its shapes: the one
   * beside a checkpoint in {@code transformer/}; beside a file elsewhere ({@code --dit /abs/path})
   * only when it is a FLUX transformer config (BFL's FluxParams or diffusers' {@code
   * FluxTransformer2DModel}), since a folder of downloads may hold any config.json.
   */
  public Path transformerConfig() {
    Path config = transformer.resolveSibling("config.json");
    if (!Files.isRegularFile(config)) {
      return null;
    }
    Path dir = transformer.toAbsolutePath().normalize().getParent();
    Path own = root.resolve("transformer").toAbsolutePath().normalize();
    if (own.equals(dir) || isFluxConfig(config)) {
      return config;
    }
    LOG.info(
        "{} is not a FLUX transformer config: {}'s parameters come from its shapes",
        config,
        transformer);
    return null;
  }

  private static boolean isFluxConfig(Path config) {
    try {
      JsonNode n = new ObjectMapper().readTree(config.toFile());
      return n != null
          && (n.has("depth_single_blocks")
              || "FluxTransformer2DModel".equals(n.path("_class_name").asText()));
    } catch (IOException e) {
      return false;
    }
  }

  /** The autoencoder's config: none for a root {@code ae.safetensors} or an embedded one. */
  public Path vaeConfig() {
    if (vaeWeights.embedded() || vae.equals(root.resolve("ae.safetensors"))) {
      return null;
    }
    return vae.resolveSibling("config.json");
  }

  /** The autoencoder's parameters, from its config or its shapes (headers only). */
  public AutoEncoderParams vaeParams() {
    try (TensorStore store = vaeWeights.open()) {
      return AutoEncoderParams.infer(store, vaeConfig());
    }
  }

  /** Loads the autoencoder onto the target. */
  public AutoEncoder loadVae(ComputeTarget target) {
    try (TensorStore store = vaeWeights.open()) {
      return AutoEncoder.load(store, AutoEncoderParams.infer(store, vaeConfig()), target);
    }
  }

  /** Loads CLIP (config from its folder, weights from wherever they are). */
  public ClipTextModel loadClip(ComputeTarget target) {
    ClipTextConfig config = ClipTextConfig.read(clip);
    try (TensorStore store = clipWeights.open()) {
      return ClipTextModel.load(config, new Weights(store, target));
    }
  }

  /** Loads T5 (config from its folder, weights from wherever they are). */
  public T5Encoder loadT5(ComputeTarget target) {
    T5Config config = T5Config.read(t5);
    try (TensorStore store = t5Weights.open()) {
      return T5Encoder.load(config, new Weights(store, target));
    }
  }

  /** Reads T5 into host memory for streaming (see {@link StreamedT5Encoder}). */
  public StreamedT5Encoder loadStreamedT5(
      ComputeTarget target, DeviceLedger ledger, HostToDevice hostToDevice) {
    T5Config config = T5Config.read(t5);
    try (TensorStore store = t5Weights.open()) {
      return StreamedT5Encoder.load(config, new Weights(store, target), ledger, hostToDevice);
    }
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
    Map<EmbeddedComponent, ComponentWeights> embedded = embeddedComponents(transformer);
    if (!embedded.isEmpty()) {
      LOG.info(
          "{} is an all-in-one file: {} from it, the rest from {}",
          transformer,
          embedded.keySet(),
          root);
    }
    Path vae =
        embedded.containsKey(EmbeddedComponent.VAE)
            ? transformer
            : VaeLoader.findCheckpoint(requireVae(root));
    Path clip = required(root, "text_encoder");
    Path t5 = required(root, "text_encoder_2");
    return new ModelDirectory(
        root,
        transformer,
        vae,
        clip,
        t5,
        required(root, "tokenizer"),
        required(root, "tokenizer_2"),
        embedded.getOrDefault(EmbeddedComponent.VAE, ComponentWeights.of(vae)),
        embedded.getOrDefault(EmbeddedComponent.CLIP, ComponentWeights.of(clip)),
        embedded.getOrDefault(EmbeddedComponent.T5, ComponentWeights.of(t5)));
  }

  /** The components a single transformer file holds besides the transformer (header only). */
  private static Map<EmbeddedComponent, ComponentWeights> embeddedComponents(Path transformer) {
    if (transformer.getFileName().toString().endsWith(".index.json")) {
      return Map.of();
    }
    try (TensorStore store = CheckpointFile.open(transformer)) {
      return EmbeddedComponent.in(transformer, store);
    }
  }

  private static Path requireVae(Path root) {
    firstExisting(root, "vae", "ae.safetensors");
    return root;
  }

  private static Path resolveTransformer(Path root, String dit) {
    Optional<Path> named = ModelLocation.namedTransformer(root, dit);
    if (named.isPresent()) {
      return named.get();
    }
    Path dir = ModelLocation.transformerDir(root);
    List<Path> indexes = list(dir, ".safetensors.index.json");
    if (indexes.size() == 1) {
      return indexes.get(0);
    }
    List<Path> files = list(dir, ".safetensors");
    if (files.size() == 1) {
      return files.get(0);
    }
    if (files.isEmpty()) {
      List<Path> gguf = list(dir, ".gguf");
      if (gguf.size() == 1) {
        return gguf.get(0);
      }
      throw new IllegalArgumentException(
          dir
              + " holds no .safetensors checkpoint"
              + (gguf.isEmpty()
                  ? ""
                  : " but several GGUF files "
                      + gguf.stream().map(p -> p.getFileName().toString()).toList()
                      + ": pick one with --dit FILE"));
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

  /**
   * Bytes per element of the input projection, which every DiT checkpoint has (0 for a file that
   * holds no transformer).
   */
  private static int storageBytes(Path file) {
    try (TensorStore dit = DitCheckpoint.open(file)) {
      return dit.entry("img_in.weight").dtype().bytes();
    } catch (UnrecognisedCheckpointException e) {
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
