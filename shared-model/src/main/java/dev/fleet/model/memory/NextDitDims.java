package dev.fleet.model.memory;

import java.util.List;

/**
 * The dimensions of a Next-DiT (Lumina-Image 2.0's transformer with NewBie-image's pooled CLIP
 * path) that its memory and arithmetic depend on. Parameter counts follow NewBie's {@code
 * NextDiT_CLIP} tensor by tensor: each block is grouped-query attention (fused qkv, no bias, QK RMS
 * norms), a SwiGLU feed-forward and four sandwich RMS norms; the noise-refiner and joint blocks add
 * an adaLN modulation (scale and gate for attention and MLP); the context-refiner blocks have none.
 *
 * <p>The streamable blocks — what a {@link DitResidency} counts as its single blocks — are the
 * {@code refinerLayers} noise-refiner blocks and the {@code layers} joint blocks, all the same
 * size. The context refiner runs once per forward over the caption only, so its blocks are counted
 * with the embedders and the final layer as always resident.
 *
 * @param patchSize latent cells per token side (2)
 * @param inChannels latent channels (16)
 * @param dim width of the residual stream (2304)
 * @param layers joint blocks (36)
 * @param refinerLayers blocks of the noise refiner and of the context refiner, each (2)
 * @param heads query heads (24)
 * @param kvHeads key and value heads (8)
 * @param ffnDim the SwiGLU's hidden width (9216)
 * @param capFeatDim width of a caption feature: Gemma's hidden size (2560)
 * @param clipTextDim width of the pooled CLIP vector: Jina's width (1024)
 * @param axesDims head-dimension share of each RoPE axis (caption index, row, column)
 */
public record NextDitDims(
    int patchSize,
    int inChannels,
    int dim,
    int layers,
    int refinerLayers,
    int heads,
    int kvHeads,
    int ffnDim,
    int capFeatDim,
    int clipTextDim,
    List<Integer> axesDims) {

  /** Width of the sinusoidal time features. */
  public static final int TIME_FREQ_DIM = 256;

  /** Largest width of the conditioning vector c. */
  public static final int MAX_ADALN_DIM = 1024;

  /** Matrices of a modulated block: qkv, out, w1, w2, w3 and the adaLN modulation. */
  public static final int MODULATED_BLOCK_MATRICES = 6;

  public NextDitDims {
    String me = "Next-DiT dimensions";
    Dims.positive(me, "patch_size", patchSize);
    Dims.positive(me, "in_channels", inChannels);
    Dims.positive(me, "dim", dim);
    Dims.positive(me, "n_layers", layers);
    Dims.positive(me, "n_heads", heads);
    Dims.positive(me, "n_kv_heads", kvHeads);
    Dims.positive(me, "ffn dim", ffnDim);
    Dims.positive(me, "cap_feat_dim", capFeatDim);
    Dims.positive(me, "clip_text_dim", clipTextDim);
    if (refinerLayers < 0) {
      throw new IllegalArgumentException(
          me + ": n_refiner_layers must not be negative, got " + refinerLayers);
    }
    if (dim % heads != 0) {
      throw new IllegalArgumentException(
          me + ": dim " + dim + " must be divisible by n_heads " + heads);
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          me + ": n_heads " + heads + " must be a multiple of n_kv_heads " + kvHeads);
    }
    axesDims = List.copyOf(axesDims);
    if (axesDims.stream().mapToInt(Integer::intValue).sum() != dim / heads) {
      throw new IllegalArgumentException(
          me + ": axes_dims " + axesDims + " must sum to the head dim " + dim / heads);
    }
  }

  public int headDim() {
    return dim / heads;
  }

  /** Width of the keys (and of the values): {@code kvHeads · headDim}. */
  public int kvDim() {
    return kvHeads * headDim();
  }

  /** Width of the conditioning vector c: {@code min(dim, 1024)}. */
  public int adalnDim() {
    return Math.min(dim, MAX_ADALN_DIM);
  }

  /** Features of one patch token: {@code patch² · C}. */
  public int patchDim() {
    return patchSize * patchSize * inChannels;
  }

  /** The blocks a residency may stream: noise refiner and joint blocks. */
  public int streamableBlocks() {
    return refinerLayers + layers;
  }

  /**
   * Matrix elements of a block: qkv ((d + 2 kv) x d), out (d x d), w1 and w3 (f x d), w2 (d x f),
   * and for a modulated block the adaLN modulation (4d x a).
   */
  public long blockMatrixParams(boolean modulated) {
    long d = dim;
    long attention = (d + 2L * kvDim()) * d + d * d;
    long ffn = 3L * ffnDim * d;
    return attention + ffn + (modulated ? 4 * d * adalnDim() : 0);
  }

  /** Vectors of a block: the q and k norms (hd each), four RMS norms (d each), the adaLN bias. */
  public long blockVectorParams(boolean modulated) {
    long d = dim;
    return 2L * headDim() + 4 * d + (modulated ? 4 * d : 0);
  }

  /** Parameters of one streamable (modulated) block. */
  public long blockParams() {
    return blockMatrixParams(true) + blockVectorParams(true);
  }

  /** Elements of a modulated block's widest matrix: a feed-forward one, qkv or the modulation. */
  public long largestBlockMatrix() {
    long d = dim;
    return Math.max((long) ffnDim * d, Math.max((d + 2L * kvDim()) * d, 4 * d * adalnDim()));
  }

  /**
   * Parameters outside the streamable blocks, always resident: the time embedder (256 → a → a), the
   * pooled-CLIP projection (RMS norm, Linear), {@code time_text_embed} (2a → a), the caption
   * embedder (RMS norm, Linear to d), the patch embedder, the final layer (adaLN and projection),
   * {@code norm_final} (stored, unused by the forward pass) and the context-refiner blocks.
   */
  public long nonBlockParams() {
    long d = dim;
    long a = adalnDim();
    long n = Dims.linear(a, TIME_FREQ_DIM, true) + Dims.linear(a, a, true);
    n += clipTextDim + Dims.linear(a, clipTextDim, true);
    n += Dims.linear(a, 2 * a, true);
    n += capFeatDim + Dims.linear(d, capFeatDim, true);
    n += Dims.linear(d, patchDim(), true);
    n += Dims.linear(d, a, true) + Dims.linear(patchDim(), d, true);
    n += d; // norm_final
    n += refinerLayers * (blockMatrixParams(false) + blockVectorParams(false));
    return n;
  }

  /** Every parameter of the transformer. */
  public long params() {
    return nonBlockParams() + streamableBlocks() * blockParams();
  }
}
