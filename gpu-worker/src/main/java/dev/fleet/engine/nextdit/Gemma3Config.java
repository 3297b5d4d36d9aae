package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Hyperparameters of a Gemma 3 text model ({@code Gemma3TextConfig}), read from the {@code
 * config.json} of either transformers' newer layout ({@code layer_types}, {@code rope_parameters})
 * or the older one ({@code sliding_window_pattern}, {@code rope_theta}, {@code
 * rope_local_base_freq}, {@code rope_scaling}); a multimodal config's {@code text_config} is used.
 * A field the file leaves out takes transformers' {@code Gemma3TextConfig} default, as transformers
 * reads it (google/gemma-3-4b-it's own config names only a few fields).
 *
 * @param fullAttention per layer: true for full attention, false for sliding-window attention
 * @param fullRopeTheta RoPE base of the full-attention layers (1e6 for Gemma 3)
 * @param fullRopeFactor linear RoPE scaling of the full-attention layers (positions / factor)
 * @param slidingRopeTheta RoPE base of the sliding-window layers (1e4)
 */
public record Gemma3Config(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int heads,
    int kvHeads,
    int headDim,
    float rmsNormEps,
    int slidingWindow,
    double queryPreAttnScalar,
    List<Boolean> fullAttention,
    double fullRopeTheta,
    double fullRopeFactor,
    double slidingRopeTheta) {

  private static final ObjectMapper JSON = new ObjectMapper();

  // transformers' Gemma3TextConfig defaults, which a saved config leaves out:
  // google/gemma-3-4b-it's
  // text_config names only its hidden and intermediate sizes, layers, window and RoPE scaling.
  private static final int DEFAULT_LAYERS = 26;
  private static final int DEFAULT_HIDDEN = 2304;
  private static final int DEFAULT_INTERMEDIATE = 9216;
  private static final int DEFAULT_HEADS = 8;
  private static final int DEFAULT_KV_HEADS = 4;
  private static final int DEFAULT_HEAD_DIM = 256;

  public Gemma3Config {
    fullAttention = List.copyOf(fullAttention);
    if (hiddenSize <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || intermediateSize <= 0) {
      throw new IllegalArgumentException("Gemma 3 sizes must be positive");
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
    }
    if (fullAttention.size() < 2) {
      throw new IllegalArgumentException(
          "hidden_states[-2] needs at least two layers, got " + fullAttention.size());
    }
    if (slidingWindow <= 0) {
      throw new IllegalArgumentException("sliding_window must be positive, got " + slidingWindow);
    }
  }

  public int layers() {
    return fullAttention.size();
  }

  /** Reads {@code dir/config.json}. */
  public static Gemma3Config read(Path dir) {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no Gemma 3 config: " + file + " does not exist");
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Gemma 3 config " + file, e);
    }
    JsonNode n = root.has("text_config") ? root.get("text_config") : root;
    int layers = n.path("num_hidden_layers").asInt(DEFAULT_LAYERS);
    List<Boolean> full = new ArrayList<>();
    JsonNode types = n.get("layer_types");
    if (types != null && types.isArray()) {
      types.forEach(t -> full.add("full_attention".equals(t.asText())));
    } else {
      int pattern =
          n.path("sliding_window_pattern").asInt(n.path("_sliding_window_pattern").asInt(6));
      for (int i = 0; i < layers; i++) {
        full.add((i + 1) % pattern == 0);
      }
    }
    if (full.size() != layers) {
      throw new IllegalArgumentException(
          file + ": " + full.size() + " layer_types for " + layers + " layers");
    }
    double fullTheta;
    double factor;
    double slidingTheta;
    JsonNode rp = n.get("rope_parameters");
    if (rp != null && rp.has("full_attention")) {
      JsonNode f = rp.get("full_attention");
      fullTheta = f.path("rope_theta").asDouble(1_000_000);
      factor =
          "linear".equals(f.path("rope_type").asText("default")) ? f.path("factor").asDouble(1) : 1;
      slidingTheta = rp.path("sliding_attention").path("rope_theta").asDouble(10_000);
    } else {
      fullTheta = n.path("rope_theta").asDouble(1_000_000);
      JsonNode scaling = n.get("rope_scaling");
      factor =
          scaling != null
                  && scaling.isObject()
                  && "linear"
                      .equals(scaling.path("rope_type").asText(scaling.path("type").asText()))
              ? scaling.path("factor").asDouble(1)
              : 1;
      slidingTheta = n.path("rope_local_base_freq").asDouble(10_000);
    }
    int headDim = n.path("head_dim").asInt(DEFAULT_HEAD_DIM);
    return new Gemma3Config(
        n.path("vocab_size").asInt(262_208),
        n.path("hidden_size").asInt(DEFAULT_HIDDEN),
        n.path("intermediate_size").asInt(DEFAULT_INTERMEDIATE),
        n.path("num_attention_heads").asInt(DEFAULT_HEADS),
        n.path("num_key_value_heads").asInt(DEFAULT_KV_HEADS),
        headDim,
        (float) n.path("rms_norm_eps").asDouble(1e-6),
        n.path("sliding_window").asInt(4096),
        n.path("query_pre_attn_scalar").asDouble(DEFAULT_HEAD_DIM),
        full,
        fullTheta,
        factor,
        slidingTheta);
  }
}
