package dev.fleet.engine.flux;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.model.memory.DitDims;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hyperparameters of a FLUX.1 transformer, as BFL's {@code FluxParams} (patch size 1: the 2x2
 * packing happens outside the model): its dimensions, which the memory planner shares ({@link
 * DitDims}), and the RoPE split, which costs no memory and so only the engine knows.
 *
 * @param dims the widths, depths and flags (in_channels ... guidance_embed)
 * @param axesDim RoPE dimensions per position axis; they sum to the head dimension
 * @param theta RoPE base
 */
public record FluxParams(DitDims dims, List<Integer> axesDim, int theta) {

  private static final Logger LOG = LoggerFactory.getLogger(FluxParams.class);

  /** FLUX.1's head dimension, which its RoPE split divides. */
  private static final int FLUX1_HEAD_DIM = 128;

  /** FLUX.1's RoPE split of its 128-wide heads: time/index axis, rows, columns. */
  public static final List<Integer> FLUX1_AXES_DIM = List.of(16, 56, 56);

  /** FLUX.1's RoPE base. */
  public static final int FLUX1_THETA = 10_000;

  public FluxParams {
    Objects.requireNonNull(dims, "dims");
    if (theta <= 0) {
      throw new IllegalArgumentException("theta must be positive, got " + theta);
    }
    if (axesDim == null || axesDim.isEmpty()) {
      throw new IllegalArgumentException("axes_dim must list at least one axis, got " + axesDim);
    }
    axesDim = List.copyOf(axesDim);
    int sum = 0;
    for (int d : axesDim) {
      if (d <= 0 || d % 2 != 0) {
        throw new IllegalArgumentException(
            "every axes_dim entry must be positive and even (RoPE rotates pairs), got " + axesDim);
      }
      sum += d;
    }
    if (sum != dims.headDim()) {
      throw new IllegalArgumentException(
          "axes_dim "
              + axesDim
              + " sums to "
              + sum
              + " but the head dimension hidden_size/num_heads is "
              + dims.headDim());
    }
  }

  /**
   * The parameters of a checkpoint: from {@code configJson} when it is given and exists (BFL's
   * FluxParams JSON, as {@code transformer/config.json} of the bundled tiny model), otherwise
   * inferred from the tensor shapes (real single-file checkpoints carry no config).
   *
   * @param configJsonOrNull a {@code config.json} beside the checkpoint, or null
   */
  public static FluxParams infer(TensorStore store, Path configJsonOrNull) {
    if (configJsonOrNull != null && Files.isRegularFile(configJsonOrNull)) {
      FluxParams p = fromJson(configJsonOrNull);
      LOG.info("FLUX parameters from {}: {}", configJsonOrNull, p);
      return p;
    }
    FluxParams p = fromShapes(store);
    LOG.info("FLUX parameters inferred from the shapes of {}: {}", store.describe(), p);
    return p;
  }

  /**
   * Reads a transformer config: BFL's FluxParams JSON (snake_case keys, all required) or diffusers'
   * {@code FluxTransformer2DModel} config (recognised by {@code num_layers}; absent keys take
   * diffusers' defaults, and BFL's fixed mlp_ratio 4, theta 10000 and qkv bias apply).
   */
  public static FluxParams fromJson(Path configJson) {
    JsonNode n;
    try {
      n = new ObjectMapper().readTree(configJson.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read FLUX config " + configJson, e);
    }
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException(configJson + ": not a JSON object");
    }
    if (n.has("num_layers")) {
      return fromDiffusersJson(n, configJson);
    }
    List<Integer> axes = new ArrayList<>();
    for (JsonNode a : required(n, "axes_dim", configJson)) {
      axes.add(a.asInt());
    }
    try {
      DitDims dims =
          new DitDims(
              required(n, "in_channels", configJson).asInt(),
              required(n, "out_channels", configJson).asInt(),
              required(n, "vec_in_dim", configJson).asInt(),
              required(n, "context_in_dim", configJson).asInt(),
              required(n, "hidden_size", configJson).asInt(),
              required(n, "mlp_ratio", configJson).asDouble(),
              required(n, "num_heads", configJson).asInt(),
              required(n, "depth", configJson).asInt(),
              required(n, "depth_single_blocks", configJson).asInt(),
              required(n, "qkv_bias", configJson).asBoolean(),
              required(n, "guidance_embed", configJson).asBoolean());
      return new FluxParams(dims, axes, required(n, "theta", configJson).asInt());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(configJson + ": " + e.getMessage(), e);
    }
  }

  private static FluxParams fromDiffusersJson(JsonNode n, Path configJson) {
    int patch = n.path("patch_size").asInt(1);
    if (patch != 1) {
      throw new IllegalArgumentException(
          configJson + ": patch_size " + patch + " is not supported (FLUX packs 2x2 outside)");
    }
    int heads = n.path("num_attention_heads").asInt(24);
    int headDim = n.path("attention_head_dim").asInt(128);
    int in = n.path("in_channels").asInt(64);
    JsonNode out = n.get("out_channels");
    List<Integer> axes = new ArrayList<>();
    if (n.has("axes_dims_rope")) {
      for (JsonNode a : n.get("axes_dims_rope")) {
        axes.add(a.asInt());
      }
    } else {
      axes.addAll(FLUX1_AXES_DIM);
    }
    try {
      DitDims dims =
          new DitDims(
              in,
              out == null || out.isNull() ? in : out.asInt(),
              n.path("pooled_projection_dim").asInt(768),
              n.path("joint_attention_dim").asInt(4096),
              heads * headDim,
              4.0,
              heads,
              n.path("num_layers").asInt(),
              n.path("num_single_layers").asInt(38),
              true,
              n.path("guidance_embeds").asBoolean(false));
      return new FluxParams(dims, axes, FLUX1_THETA);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(configJson + ": " + e.getMessage(), e);
    }
  }

  private static JsonNode required(JsonNode n, String key, Path file) {
    JsonNode v = n.get(key);
    if (v == null || v.isNull()) {
      throw new IllegalArgumentException(file + ": missing FluxParams key '" + key + "'");
    }
    return v;
  }

  /**
   * Infers the parameters from tensor shapes in the BFL key layout. The head dimension comes from
   * the QK-norm scale (128 in FLUX.1); with FLUX.1's head dimension the RoPE split is FLUX.1's (16,
   * 56, 56), otherwise the same proportions (an eighth for the first axis, the rest halved) rounded
   * to even sizes, which is a guess: such models should ship a config.json.
   */
  public static FluxParams fromShapes(TensorStore store) {
    long[] imgIn = shape(store, "img_in.weight", 2);
    int hidden = (int) imgIn[0];
    int inChannels = (int) imgIn[1];
    int outChannels = (int) shape(store, "final_layer.linear.weight", 2)[0];
    int contextInDim = (int) shape(store, "txt_in.weight", 2)[1];
    int vecInDim = (int) shape(store, "vector_in.in_layer.weight", 2)[1];
    int depth = countBlocks(store, "double_blocks");
    int depthSingle = countBlocks(store, "single_blocks");

    long mlpHidden;
    int headDim;
    boolean qkvBias;
    if (depth > 0) {
      mlpHidden = shape(store, "double_blocks.0.img_mlp.0.weight", 2)[0];
      headDim = (int) shape(store, "double_blocks.0.img_attn.norm.query_norm.scale", 1)[0];
      qkvBias = store.contains("double_blocks.0.img_attn.qkv.bias");
    } else if (depthSingle > 0) {
      mlpHidden = shape(store, "single_blocks.0.linear1.weight", 2)[0] - 3L * hidden;
      headDim = (int) shape(store, "single_blocks.0.norm.query_norm.scale", 1)[0];
      qkvBias = true;
    } else {
      throw new IllegalArgumentException(
          store.describe() + ": no double_blocks.N or single_blocks.N tensors, not a FLUX model");
    }
    if (headDim <= 0 || hidden % headDim != 0) {
      throw new IllegalArgumentException(
          store.describe()
              + ": QK-norm size "
              + headDim
              + " does not divide hidden size "
              + hidden);
    }
    List<Integer> axes;
    if (headDim == FLUX1_HEAD_DIM) {
      axes = FLUX1_AXES_DIM;
    } else {
      int first = 2 * Math.max(1, Math.round(headDim / 16f));
      int rest = headDim - first;
      int second = 2 * (rest / 4);
      axes = List.of(first, second, rest - second);
      LOG.warn(
          "{}: head dimension {} is not FLUX.1's {}; guessing RoPE axes_dim {} (ship a config.json"
              + " to set it)",
          store.describe(),
          headDim,
          FLUX1_HEAD_DIM,
          axes);
    }
    DitDims dims =
        new DitDims(
            inChannels,
            outChannels,
            vecInDim,
            contextInDim,
            hidden,
            (double) mlpHidden / hidden,
            hidden / headDim,
            depth,
            depthSingle,
            qkvBias,
            store.contains("guidance_in.in_layer.weight"));
    if (dims.mlpHiddenDim() != mlpHidden) {
      throw new IllegalArgumentException(
          store.describe()
              + ": MLP width "
              + mlpHidden
              + " is not int(hidden_size * mlp_ratio) for hidden size "
              + hidden);
    }
    return new FluxParams(dims, axes, FLUX1_THETA);
  }

  private static long[] shape(TensorStore store, String key, int rank) {
    long[] s = store.entry(key).shape();
    if (s.length != rank) {
      throw new IllegalArgumentException(
          store.describe()
              + ": "
              + key
              + " has rank "
              + s.length
              + " "
              + java.util.Arrays.toString(s)
              + ", expected rank "
              + rank);
    }
    return s;
  }

  private static int countBlocks(TensorStore store, String prefix) {
    Pattern p = Pattern.compile("^" + Pattern.quote(prefix) + "\\.(\\d+)\\.");
    TreeSet<Integer> seen = new TreeSet<>();
    for (String name : store.names()) {
      Matcher m = p.matcher(name);
      if (m.find()) {
        seen.add(Integer.parseInt(m.group(1)));
      }
    }
    for (int i = 0; i < seen.size(); i++) {
      if (!seen.contains(i)) {
        throw new IllegalArgumentException(
            store.describe()
                + ": "
                + prefix
                + "."
                + i
                + " is missing but "
                + seen.last()
                + " exists");
      }
    }
    return seen.size();
  }
}
