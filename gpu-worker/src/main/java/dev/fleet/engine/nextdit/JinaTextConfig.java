package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hyperparameters of Jina CLIP v2's text tower (an XLM-R with rotary positions), from a {@code
 * JinaCLIPModel} config's {@code text_config.hf_model_config_kwargs}, a {@code JinaCLIPTextModel}
 * config's {@code hf_model_config_kwargs}, or a plain XLM-R config.
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
    JsonNode n = textConfig.path("hf_model_config_kwargs");
    if (!n.isObject() || !n.has("hidden_size")) {
      n = root;
    }
    if (!n.has("hidden_size")) {
      throw new IllegalArgumentException(file + " has no text tower hidden_size");
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
}
