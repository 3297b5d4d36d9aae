package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.KeyMappedStore;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hyperparameters of Jina CLIP v2's text tower (an XLM-R with rotary positions), from a {@code
 * JinaCLIPModel} config's {@code text_config.hf_model_config_kwargs}, a {@code JinaCLIPTextModel}
 * config's {@code hf_model_config_kwargs}, or a plain XLM-R config; where none names the sizes (as
 * jina-clip-v2's own config), from the checkpoint's shapes.
 *
 * @param taskLora the task LoRA to merge where the checkpoint keeps weights as parametrizations;
 *     null when the config declares none
 */
public record JinaTextConfig(
    int vocabSize,
    int hiddenSize,
    int layers,
    int heads,
    int intermediateSize,
    double rotaryBase,
    float layerNormEps,
    JinaTaskLora taskLora) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Attention heads of jinaai/jina-embeddings-v3, jina-clip-v2's text tower. */
  static final int JINA_V3_HEADS = 16;

  public JinaTextConfig {
    if (vocabSize <= 0 || hiddenSize <= 0 || layers <= 0 || heads <= 0 || intermediateSize <= 0) {
      throw new IllegalArgumentException("Jina text tower sizes must be positive");
    }
    if (hiddenSize % heads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + heads);
    }
  }

  public int headDim() {
    return hiddenSize / heads;
  }

  /** Reads {@code dir/config.json}. */
  public static JinaTextConfig read(Path dir) {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no Jina CLIP config: " + file + " does not exist");
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Jina CLIP config " + file, e);
    }
    // JinaCLIPModel's config nests the tower's; JinaCLIPTextModel's (diffusers' text_encoder_2) is
    // it.
    JsonNode textConfig = root.has("text_config") ? root.get("text_config") : root;
    JsonNode kwargs = textConfig.path("hf_model_config_kwargs");
    JsonNode n = kwargs.isObject() && kwargs.has("hidden_size") ? kwargs : root;
    if (!n.has("hidden_size")) {
      return fromShapes(dir, file, textConfig, kwargs);
    }
    return new JinaTextConfig(
        n.path("vocab_size").asInt(250_002),
        n.get("hidden_size").asInt(),
        n.path("num_hidden_layers").asInt(24),
        n.path("num_attention_heads").asInt(16),
        n.path("intermediate_size").asInt(4 * n.get("hidden_size").asInt()),
        n.path("rotary_emb_base").asDouble(20_000),
        (float) n.path("layer_norm_eps").asDouble(1e-5),
        JinaTaskLora.read(textConfig, n));
  }

  /**
   * jina-clip-v2's own config names no sizes: its {@code hf_model_config_kwargs} holds the task
   * LoRA's settings, the sizes being those of {@code hf_model_name_or_path}'s config
   * (jinaai/jina-embeddings-v3), which is not in the folder. They are read from the checkpoint's
   * shapes instead: vocabulary and width from the word embeddings, the layers counted, the
   * feed-forward width from {@code fc1}; the head count (not in any shape), the RoPE base and the
   * LayerNorm epsilon from the kwargs when given, else jina-embeddings-v3's (16 heads, 20000,
   * 1e-5).
   */
  private static JinaTextConfig fromShapes(
      Path dir, Path file, JsonNode textConfig, JsonNode kwargs) {
    Path checkpoint = CheckpointPaths.in(dir);
    try (TensorStore store = TensorStore.open(checkpoint)) {
      Weights w;
      try {
        w = JinaTextTower.towerOf(new Weights(store, ComputeTarget.cpu()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            file + " names no text tower sizes (hidden_size), and " + e.getMessage(), e);
      }
      long[] words = JinaTextTower.storedShape(w, "embeddings.word_embeddings.weight");
      long[] fc1 = JinaTextTower.storedShape(w, "encoder.layers.0.mlp.fc1.weight");
      int layers = KeyMappedStore.blockIndices(store, w.prefix() + "encoder.layers").size();
      return new JinaTextConfig(
          Math.toIntExact(words[0]),
          Math.toIntExact(words[1]),
          layers,
          kwargs.path("num_attention_heads").asInt(JINA_V3_HEADS),
          Math.toIntExact(fc1[0]),
          kwargs.path("rotary_emb_base").asDouble(20_000),
          (float) kwargs.path("layer_norm_eps").asDouble(1e-5),
          JinaTaskLora.read(textConfig, kwargs));
    }
  }
}
