package dev.fleet.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.model.memory.T5Dims;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Hyperparameters of a Hugging Face {@code T5EncoderModel} (T5 v1.1 style, as FLUX's T5-XXL text
 * encoder), as its {@code config.json} holds them: its dimensions, which the memory planner shares
 * ({@link T5Dims}), and what only the computation needs.
 *
 * @param dims vocabulary, widths, heads, layers and position buckets
 * @param maxDistance {@code relative_attention_max_distance}: where the log-spaced buckets end
 * @param layerNormEps the RMS norms' epsilon
 * @param feedForwardProj the feed-forward's kind; only {@link #GATED_GELU} is implemented
 */
public record T5Config(T5Dims dims, int maxDistance, float layerNormEps, String feedForwardProj) {

  /** The only feed-forward this encoder implements: gated GELU (tanh form) of T5 v1.1. */
  public static final String GATED_GELU = "gated-gelu";

  /** transformers' {@code relative_attention_max_distance} when a config names none. */
  public static final int DEFAULT_MAX_DISTANCE = 128;

  /** transformers' {@code layer_norm_epsilon} when a config names none. */
  public static final float DEFAULT_LAYER_NORM_EPS = 1e-6f;

  public T5Config {
    Objects.requireNonNull(dims, "dims");
    int numBuckets = dims.numBuckets();
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

  /** A T5 v1.1 encoder of these dimensions with transformers' defaults for the rest. */
  public static T5Config v11(T5Dims dims) {
    return new T5Config(dims, DEFAULT_MAX_DISTANCE, DEFAULT_LAYER_NORM_EPS, GATED_GELU);
  }

  /** Reads {@code dir/config.json}; absent optional fields take transformers' defaults. */
  public static T5Config read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode root = ConfigJson.read(file, "T5 text encoder");
    ConfigJson json = new ConfigJson(root, file);
    return new T5Config(
        new T5Dims(
            json.requireInt("vocab_size"),
            json.requireInt("d_model"),
            json.requireInt("d_kv"),
            json.requireInt("d_ff"),
            json.requireInt("num_heads"),
            json.requireInt("num_layers"),
            json.intOr("relative_attention_num_buckets", 32)),
        json.intOr("relative_attention_max_distance", DEFAULT_MAX_DISTANCE),
        (float) json.doubleOr("layer_norm_epsilon", DEFAULT_LAYER_NORM_EPS),
        json.textOr("feed_forward_proj", "relu"));
  }
}
