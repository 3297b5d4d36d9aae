package dev.fleet.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Set;

/**
 * Hyperparameters of a Hugging Face {@code CLIPTextModel}, as its {@code config.json} holds them.
 *
 * @param eosTokenId the config's eos id; {@code 2} marks the legacy configs (FLUX.1-dev's among
 *     them) whose pooled output is taken at the highest token id, as transformers does for them
 */
public record ClipTextConfig(
    int vocabSize,
    int hiddenSize,
    int heads,
    int layers,
    int intermediateSize,
    int maxPositions,
    float layerNormEps,
    String hiddenAct,
    long eosTokenId) {

  /** Activations this implementation knows, by their transformers names. */
  public static final Set<String> ACTIVATIONS =
      Set.of("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh");

  public ClipTextConfig {
    ConfigJson.requirePositive("vocab_size", vocabSize);
    ConfigJson.requirePositive("hidden_size", hiddenSize);
    ConfigJson.requirePositive("num_attention_heads", heads);
    ConfigJson.requirePositive("num_hidden_layers", layers);
    ConfigJson.requirePositive("intermediate_size", intermediateSize);
    ConfigJson.requirePositive("max_position_embeddings", maxPositions);
    if (hiddenSize % heads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + heads);
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
    }
    if (!ACTIVATIONS.contains(hiddenAct)) {
      throw new IllegalArgumentException(
          "hidden_act " + hiddenAct + " is not supported; expected one of " + ACTIVATIONS);
    }
  }

  public int headDim() {
    return hiddenSize / heads;
  }

  /** True for the legacy configs whose pooled output sits at the highest token id. */
  public boolean poolsAtHighestId() {
    return eosTokenId == 2;
  }

  /**
   * Reads {@code dir/config.json}: a {@code CLIPTextConfig}, or a full {@code CLIPConfig} whose
   * {@code text_config} is used. Absent optional fields take transformers' defaults.
   */
  public static ClipTextConfig read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode root = ConfigJson.read(file, "CLIP text encoder");
    JsonNode c = root.has("text_config") ? root.get("text_config") : root;
    ConfigJson json = new ConfigJson(c, file);
    return new ClipTextConfig(
        json.intOr("vocab_size", 49408),
        json.requireInt("hidden_size"),
        json.requireInt("num_attention_heads"),
        json.requireInt("num_hidden_layers"),
        json.requireInt("intermediate_size"),
        json.intOr("max_position_embeddings", 77),
        (float) json.doubleOr("layer_norm_eps", 1e-5),
        json.textOr("hidden_act", "quick_gelu"),
        // Without an eos id, pool at the highest id: right for every CLIP vocabulary, whose
        // <|endoftext|> is the last token.
        json.intOr("eos_token_id", 2));
  }
}
