package dev.fleet.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * Hyperparameters of a Hugging Face {@code T5EncoderModel} (T5 v1.1 style, as FLUX's T5-XXL text
 * encoder), as its {@code config.json} holds them.
 */
public record T5Config(
    int vocabSize,
    int dModel,
    int dKv,
    int dFf,
    int heads,
    int layers,
    int numBuckets,
    int maxDistance,
    float layerNormEps,
    String feedForwardProj) {

  /** The only feed-forward this encoder implements: gated GELU (tanh form) of T5 v1.1. */
  public static final String GATED_GELU = "gated-gelu";

  public T5Config {
    ConfigJson.requirePositive("vocab_size", vocabSize);
    ConfigJson.requirePositive("d_model", dModel);
    ConfigJson.requirePositive("d_kv", dKv);
    ConfigJson.requirePositive("d_ff", dFf);
    ConfigJson.requirePositive("num_heads", heads);
    ConfigJson.requirePositive("num_layers", layers);
    if (numBuckets < 4 || numBuckets % 2 != 0) {
      throw new IllegalArgumentException(
          "relative_attention_num_buckets must be even and at least 4, got " + numBuckets);
    }
    if (maxDistance <= numBuckets / 4) {
      throw new IllegalArgumentException(
          "relative_attention_max_distance "
              + maxDistance
              + " must exceed a quarter of the buckets ("
              + numBuckets / 4
              + ")");
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException(
          "layer_norm_epsilon must be positive, got " + layerNormEps);
    }
    if (!GATED_GELU.equals(feedForwardProj)) {
      throw new IllegalArgumentException(
          "feed_forward_proj " + feedForwardProj + " is not supported; expected " + GATED_GELU);
    }
  }

  /** Width of the attention projections, {@code heads * dKv}; it need not equal {@code dModel}. */
  public int innerDim() {
    return heads * dKv;
  }

  /** Reads {@code dir/config.json}; absent optional fields take transformers' defaults. */
  public static T5Config read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode root = ConfigJson.read(file, "T5 text encoder");
    ConfigJson json = new ConfigJson(root, file);
    return new T5Config(
        json.requireInt("vocab_size"),
        json.requireInt("d_model"),
        json.requireInt("d_kv"),
        json.requireInt("d_ff"),
        json.requireInt("num_heads"),
        json.requireInt("num_layers"),
        json.intOr("relative_attention_num_buckets", 32),
        json.intOr("relative_attention_max_distance", 128),
        (float) json.doubleOr("layer_norm_epsilon", 1e-6),
        json.textOr("feed_forward_proj", "relu"));
  }
}
