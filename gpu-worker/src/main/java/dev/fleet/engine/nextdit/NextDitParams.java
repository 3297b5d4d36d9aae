package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.model.memory.NextDitDims;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Hyperparameters of a Next-DiT with a pooled CLIP path (NewBie's {@code NextDiT_CLIP}), as the
 * constructor arguments of NewBie's {@code models/model.py} name them.
 *
 * @param patchSize side of a square latent patch (2)
 * @param inChannels latent channels (16)
 * @param dim hidden width D
 * @param nLayers joint blocks
 * @param nRefinerLayers blocks of the noise refiner and of the context refiner, each
 * @param nHeads query heads
 * @param nKvHeads key/value heads (grouped-query attention)
 * @param multipleOf the FFN width is rounded up to a multiple of this
 * @param ffnDimMultiplier optional factor on the FFN width 4·D, or null
 * @param normEps epsilon of the blocks' RMS norms and of the caption embedder's norm
 * @param capFeatDim width of the caption features (Gemma's hidden size)
 * @param axesDims head-dimension share of each RoPE axis (caption index, row, column)
 * @param axesLens position range of each axis (recorded; positions are computed, not looked up)
 * @param clipTextDim width of the pooled CLIP vector
 */
public record NextDitParams(
    int patchSize,
    int inChannels,
    int dim,
    int nLayers,
    int nRefinerLayers,
    int nHeads,
    int nKvHeads,
    int multipleOf,
    Double ffnDimMultiplier,
    float normEps,
    int capFeatDim,
    List<Integer> axesDims,
    List<Integer> axesLens,
    int clipTextDim) {

  /** Width of the sinusoidal time features. */
  public static final int TIME_FREQ_DIM = 256;

  /** Largest width of the adaLN conditioning vector ({@code min(dim, 1024)}). */
  public static final int MAX_ADALN_DIM = 1024;

  /** RoPE base of every axis. */
  public static final double ROPE_THETA = 10000;

  /** Epsilon of the q/k norms and of the pooled CLIP norm (model.py passes none: 1e-6). */
  public static final float QK_NORM_EPS = 1e-6f;

  /** Epsilon of the final layer's affine-free LayerNorm. */
  public static final float FINAL_NORM_EPS = 1e-6f;

  private static final ObjectMapper JSON = new ObjectMapper();

  public NextDitParams {
    axesDims = List.copyOf(axesDims);
    axesLens = List.copyOf(axesLens);
    positive("patch_size", patchSize);
    positive("in_channels", inChannels);
    positive("dim", dim);
    positive("n_layers", nLayers);
    if (nRefinerLayers < 0) {
      throw new IllegalArgumentException(
          "n_refiner_layers must not be negative: " + nRefinerLayers);
    }
    positive("n_heads", nHeads);
    positive("n_kv_heads", nKvHeads);
    positive("multiple_of", multipleOf);
    positive("cap_feat_dim", capFeatDim);
    positive("clip_text_dim", clipTextDim);
    if (dim % nHeads != 0) {
      throw new IllegalArgumentException("dim " + dim + " is not divisible by n_heads " + nHeads);
    }
    if (nHeads % nKvHeads != 0) {
      throw new IllegalArgumentException(
          "n_heads " + nHeads + " is not a multiple of n_kv_heads " + nKvHeads);
    }
    int sum = 0;
    for (int d : axesDims) {
      if (d <= 0 || d % 2 != 0) {
        throw new IllegalArgumentException("axes_dims must be positive and even, got " + axesDims);
      }
      sum += d;
    }
    if (sum != dim / nHeads) {
      throw new IllegalArgumentException(
          "axes_dims " + axesDims + " must sum to the head dim " + dim / nHeads);
    }
    if (axesDims.size() != 3) {
      throw new IllegalArgumentException("Next-DiT has three RoPE axes, got " + axesDims);
    }
    if (!(normEps > 0)) {
      throw new IllegalArgumentException("norm_eps must be positive, got " + normEps);
    }
  }

  /**
   * The parameters of a model of {@code dims} (a preset's): NewBie's norm epsilon and position
   * ranges, the feed-forward width 4 · dim (multiple of 1), or 4 · dim scaled by {@code
   * ffn_dim_multiplier} to {@code dims.ffnDim()}.
   *
   * @throws IllegalArgumentException when no factor gives the width
   */
  public static NextDitParams of(NextDitDims dims) {
    long base = 4L * dims.dim();
    Double factor = dims.ffnDim() == base ? null : (double) dims.ffnDim() / base;
    NextDitParams p =
        new NextDitParams(
            dims.patchSize(),
            dims.inChannels(),
            dims.dim(),
            dims.layers(),
            dims.refinerLayers(),
            dims.heads(),
            dims.kvHeads(),
            1,
            factor,
            1e-5f,
            dims.capFeatDim(),
            dims.axesDims(),
            List.of(1024, 512, 512),
            dims.clipTextDim());
    if (p.ffnDim() != dims.ffnDim()) {
      throw new IllegalArgumentException(
          "no Next-DiT feed-forward of dim "
              + dims.dim()
              + " is "
              + dims.ffnDim()
              + " wide (got "
              + p.ffnDim()
              + ")");
    }
    return p;
  }

  public int headDim() {
    return dim / nHeads;
  }

  /** Width of the conditioning vector c: {@code min(dim, 1024)}. */
  public int adalnDim() {
    return Math.min(dim, MAX_ADALN_DIM);
  }

  /** Hidden width of the SwiGLU feed-forward (Lumina's {@code FeedForward} with 4·D). */
  public int ffnDim() {
    long hidden = 4L * dim;
    if (ffnDimMultiplier != null) {
      hidden = (long) (ffnDimMultiplier * hidden);
    }
    return (int) (multipleOf * ((hidden + multipleOf - 1) / multipleOf));
  }

  /** The planner's view of these dimensions. */
  public NextDitDims dims() {
    return new NextDitDims(
        patchSize,
        inChannels,
        dim,
        nLayers,
        nRefinerLayers,
        nHeads,
        nKvHeads,
        ffnDim(),
        capFeatDim,
        clipTextDim,
        axesDims);
  }

  /** Width of one patch token: {@code patch² · C}. */
  public int patchDim() {
    return patchSize * patchSize * inChannels;
  }

  /** As {@link #fromJson(Path, TensorStore)} with no checkpoint to read widths from. */
  public static NextDitParams fromJson(Path file) {
    return fromJson(file, null);
  }

  /**
   * Reads {@code config.json}: NewBie's constructor arguments ({@code dim}, {@code n_layers} …) or
   * the same under the names of diffusers' {@code Lumina2Transformer2DModel} config ({@code
   * hidden_size}, {@code num_layers}, {@code num_refiner_layers}, {@code num_attention_heads},
   * {@code num_kv_heads}, {@code axes_dim_rope}, {@code pooled_projection_dim}); absent optional
   * fields: defaults. The caption and pooled-CLIP widths may be absent (NewBie's own conversion to
   * its diffusers-style folder writes neither: its model takes {@code cap_feat_dim} from the text
   * encoder); they are then read from {@code checkpoint}'s shapes ({@code cap_embedder.0.weight},
   * {@code clip_text_pooled_proj.0.weight}).
   *
   * @param checkpoint the DiT in NewBie's key names, or null
   */
  public static NextDitParams fromJson(Path file, TensorStore checkpoint) {
    JsonNode n;
    try {
      n = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Next-DiT config " + file, e);
    }
    JsonNode mult = n.get("ffn_dim_multiplier");
    JsonNode heads = either(n, "n_heads", "num_attention_heads");
    return new NextDitParams(
        n.path("patch_size").asInt(2),
        n.path("in_channels").asInt(16),
        require(n, file, "dim", "hidden_size"),
        require(n, file, "n_layers", "num_layers"),
        either(n, "n_refiner_layers", "num_refiner_layers").asInt(2),
        require(n, file, "n_heads", "num_attention_heads"),
        either(n, "n_kv_heads", "num_kv_heads").asInt(heads.asInt()),
        n.path("multiple_of").asInt(256),
        mult == null || mult.isNull() ? null : mult.asDouble(),
        (float) n.path("norm_eps").asDouble(1e-5),
        width(n, file, "cap_feat_dim", "cap_feat_dim", checkpoint, "cap_embedder.0.weight"),
        ints(either(n, "axes_dims", "axes_dim_rope"), List.of(32, 32, 32)),
        ints(n.get("axes_lens"), List.of(1024, 512, 512)),
        width(
            n,
            file,
            "clip_text_dim",
            "pooled_projection_dim",
            checkpoint,
            "clip_text_pooled_proj.0.weight"));
  }

  /** A width from the config, else the length of a norm weight in the checkpoint. */
  private static int width(
      JsonNode n, Path file, String newbie, String diffusers, TensorStore checkpoint, String norm) {
    if (either(n, newbie, diffusers).canConvertToInt() || checkpoint == null) {
      return require(n, file, newbie, diffusers);
    }
    if (!checkpoint.contains(norm)) {
      throw new IllegalArgumentException(
          file
              + " lacks the integer field "
              + newbie
              + ", and "
              + checkpoint.describe()
              + " has no "
              + norm
              + " to read it from");
    }
    return Math.toIntExact(checkpoint.entry(norm).shape()[0]);
  }

  /** Reads {@code dir/config.json}. */
  public static NextDitParams read(Path dir) {
    return read(dir, null);
  }

  /**
   * Reads {@code dir/config.json}, widths it leaves out from {@code checkpoint} (see {@link
   * #fromJson(Path, TensorStore)}).
   */
  public static NextDitParams read(Path dir, TensorStore checkpoint) {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no Next-DiT config: " + file + " does not exist");
    }
    return fromJson(file, checkpoint);
  }

  /** The field under NewBie's name, else under diffusers' (a missing node when neither). */
  private static JsonNode either(JsonNode n, String newbie, String diffusers) {
    JsonNode v = n.get(newbie);
    return v != null && !v.isNull() ? v : n.path(diffusers);
  }

  private static int require(JsonNode n, Path file, String newbie, String diffusers) {
    JsonNode v = either(n, newbie, diffusers);
    if (!v.canConvertToInt()) {
      throw new IllegalArgumentException(
          file
              + " lacks the integer field "
              + newbie
              + (newbie.equals(diffusers) ? "" : " (diffusers: " + diffusers + ")"));
    }
    return v.intValue();
  }

  private static List<Integer> ints(JsonNode array, List<Integer> fallback) {
    if (array == null || !array.isArray()) {
      return fallback;
    }
    List<Integer> out = new ArrayList<>();
    array.forEach(v -> out.add(v.intValue()));
    return out;
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be positive, got " + value);
    }
  }
}
