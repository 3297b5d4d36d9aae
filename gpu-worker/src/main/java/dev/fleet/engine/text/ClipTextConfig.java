package dev.fleet.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.model.memory.ClipDims;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * Hyperparameters of a Hugging Face {@code CLIPTextModel}, as its {@code config.json} holds them:
 * its dimensions, which the memory planner shares ({@link ClipDims}), and what only the computation
 * needs.
 *
 * @param dims vocabulary, widths, heads, layers and positions
 * @param layerNormEps the layer norms' epsilon
 * @param hiddenAct the MLP's activation, by its transformers name (one of {@link #ACTIVATIONS})
 * @param eosTokenId the config's eos id; {@link #LEGACY_EOS_TOKEN_ID} marks the legacy configs
 *     (FLUX.1-dev's among them) whose pooled output is taken at the highest token id, as
 *     transformers does for them
 */
public record ClipTextConfig(ClipDims dims, float layerNormEps, String hiddenAct, long eosTokenId) {

  /** Activations this implementation knows, by their transformers names. */
  public static final Set<String> ACTIVATIONS =
      Set.of("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh");

  /** CLIP's own activation, transformers' default. */
  public static final String QUICK_GELU = "quick_gelu";

  /** transformers' {@code layer_norm_eps} when a config names none. */
  public static final float DEFAULT_LAYER_NORM_EPS = 1e-5f;

  /** The eos id of legacy configs, and what a config without one is read as. */
  public static final long LEGACY_EOS_TOKEN_ID = 2;

  public ClipTextConfig {
    Objects.requireNonNull(dims, "dims");
    if (dims.hiddenSize() % dims.heads() != 0) {
      throw new IllegalArgumentException(
          "hidden_size "
              + dims.hiddenSize()
              + " is not divisible by num_attention_heads "
              + dims.heads());
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
    }
    if (!ACTIVATIONS.contains(hiddenAct)) {
      throw new IllegalArgumentException(
          "hidden_act " + hiddenAct + " is not supported; expected one of " + ACTIVATIONS);
    }
  }

  /** A CLIP text model of these dimensions with transformers' defaults and this eos id. */
  public static ClipTextConfig of(ClipDims dims, long eosTokenId) {
    return new ClipTextConfig(dims, DEFAULT_LAYER_NORM_EPS, QUICK_GELU, eosTokenId);
  }

  public int headDim() {
    return dims.hiddenSize() / dims.heads();
  }

  /** True for the legacy configs whose pooled output sits at the highest token id. */
  public boolean poolsAtHighestId() {
    return eosTokenId == LEGACY_EOS_TOKEN_ID;
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
        new ClipDims(
            json.intOr("vocab_size", 49408),
            json.requireInt("hidden_size"),
            json.requireInt("num_attention_heads"),
            json.requireInt("num_hidden_layers"),
            json.requireInt("intermediate_size"),
            json.intOr("max_position_embeddings", 77)),
        (float) json.doubleOr("layer_norm_eps", DEFAULT_LAYER_NORM_EPS),
        json.textOr("hidden_act", QUICK_GELU),
        // Without an eos id, pool at the highest id: right for every CLIP vocabulary, whose
        // <|endoftext|> is the last token.
        json.intOr("eos_token_id", (int) LEGACY_EOS_TOKEN_ID));
  }
}
