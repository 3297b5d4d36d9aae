package dev.fleet.model.memory;

/**
 * The dimensions of a FLUX.1 transformer that its memory and its arithmetic depend on (BFL's {@code
 * FluxParams} without the RoPE split, which costs no memory). Parameter counts follow BFL's {@code
 * Flux} module tensor by tensor, split into the matrices of the blocks (what fp8 checkpoints store
 * in float8) and everything else (biases, QK-norm scales, embedders, head: 16-bit).
 *
 * @param inChannels features of one packed image token (64: 16 latent channels, 2x2)
 * @param outChannels features of one predicted token
 * @param vecInDim width of the pooled text vector (CLIP's hidden size)
 * @param contextInDim width of one text token (T5's d_model)
 * @param hiddenSize width of the residual stream
 * @param mlpRatio MLP width over hidden size
 * @param numHeads attention heads
 * @param depth double-stream blocks
 * @param depthSingleBlocks single-stream blocks
 * @param qkvBias whether the double blocks' qkv projections have biases
 * @param guidanceEmbed whether a distilled-guidance embedder exists (dev, not schnell)
 */
public record DitDims(
    int inChannels,
    int outChannels,
    int vecInDim,
    int contextInDim,
    int hiddenSize,
    double mlpRatio,
    int numHeads,
    int depth,
    int depthSingleBlocks,
    boolean qkvBias,
    boolean guidanceEmbed) {

  /**
   * Width of the sinusoidal timestep and guidance embeddings (BFL's {@code timestep_embedding}).
   */
  public static final int TIME_EMBED_DIM = 256;

  public DitDims {
    String me = "DiT dimensions";
    Dims.positive(me, "in_channels", inChannels);
    Dims.positive(me, "out_channels", outChannels);
    Dims.positive(me, "vec_in_dim", vecInDim);
    Dims.positive(me, "context_in_dim", contextInDim);
    Dims.positive(me, "hidden_size", hiddenSize);
    Dims.positive(me, "num_heads", numHeads);
    if (!(mlpRatio > 0) || Double.isInfinite(mlpRatio)) {
      throw new IllegalArgumentException(me + ": mlp_ratio must be positive, got " + mlpRatio);
    }
    if (depth < 0 || depthSingleBlocks < 0 || depth + depthSingleBlocks == 0) {
      throw new IllegalArgumentException(
          me
              + ": depth and depth_single_blocks must not be negative and not both 0, got "
              + depth
              + " and "
              + depthSingleBlocks);
    }
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          me + ": hidden_size " + hiddenSize + " must be divisible by num_heads " + numHeads);
    }
  }

  /**
   * Matrices of one double block: per stream the modulation, qkv, attention projection and the two
   * MLP layers. Each carries one float32 scale when stored as scaled float8.
   */
  public static final int DOUBLE_BLOCK_MATRICES = 10;

  /** Matrices of one single block: linear1, linear2 and the modulation. */
  public static final int SINGLE_BLOCK_MATRICES = 3;

  public int headDim() {
    return hiddenSize / numHeads;
  }

  /** MLP width, {@code int(hidden_size * mlp_ratio)} as BFL computes it. */
  public int mlpHiddenDim() {
    return (int) (hiddenSize * mlpRatio);
  }

  /** All blocks, double then single. */
  public int blocks() {
    return depth + depthSingleBlocks;
  }

  /**
   * Matrix elements of one double block: per stream (image, text) the modulation (6h x h), qkv (3h
   * x h), attention projection (h x h) and the MLP (m x h, h x m).
   */
  public long doubleBlockMatrixParams() {
    long h = hiddenSize;
    long m = mlpHiddenDim();
    return 2 * (6 * h * h + 3 * h * h + h * h + m * h + h * m);
  }

  /** Biases and QK-norm scales of one double block. */
  public long doubleBlockVectorParams() {
    long h = hiddenSize;
    long m = mlpHiddenDim();
    return 2 * (6 * h + (qkvBias ? 3 * h : 0) + 2L * headDim() + h + m + h);
  }

  public long doubleBlockParams() {
    return doubleBlockMatrixParams() + doubleBlockVectorParams();
  }

  /**
   * Matrix elements of one single block: linear1 (qkv and MLP input fused, (3h + m) x h), linear2
   * (attention output and MLP output fused, h x (h + m)) and the modulation (3h x h).
   */
  public long singleBlockMatrixParams() {
    long h = hiddenSize;
    long m = mlpHiddenDim();
    return (3 * h + m) * h + h * (h + m) + 3 * h * h;
  }

  /** Biases and QK-norm scales of one single block. */
  public long singleBlockVectorParams() {
    long h = hiddenSize;
    long m = mlpHiddenDim();
    return (3 * h + m) + h + 2L * headDim() + 3 * h;
  }

  public long singleBlockParams() {
    return singleBlockMatrixParams() + singleBlockVectorParams();
  }

  /** Elements of the widest matrix of a double block: the modulation (6h x h) or MLP (m x h). */
  public long largestDoubleBlockMatrix() {
    long h = hiddenSize;
    return Math.max(6 * h * h, (long) mlpHiddenDim() * h);
  }

  /** Elements of the widest matrix of a single block: linear1, (3h + m) x h. */
  public long largestSingleBlockMatrix() {
    long h = hiddenSize;
    return Math.max((3 * h + mlpHiddenDim()) * h, h * (h + mlpHiddenDim()));
  }

  /**
   * Parameters outside the blocks: img_in, time_in, vector_in, guidance_in (dev), txt_in and the
   * final layer (adaLN modulation and projection). Always resident: small and used every step.
   */
  public long nonBlockParams() {
    long h = hiddenSize;
    long n = Dims.linear(h, inChannels, true);
    n += mlpEmbedder(TIME_EMBED_DIM, h);
    n += mlpEmbedder(vecInDim, h);
    if (guidanceEmbed) {
      n += mlpEmbedder(TIME_EMBED_DIM, h);
    }
    n += Dims.linear(h, contextInDim, true);
    n += Dims.linear(2 * h, h, true);
    n += Dims.linear(outChannels, h, true);
    return n;
  }

  /** Every parameter of the transformer. */
  public long params() {
    return nonBlockParams() + depth * doubleBlockParams() + depthSingleBlocks * singleBlockParams();
  }

  private static long mlpEmbedder(long in, long hidden) {
    return Dims.linear(hidden, in, true) + Dims.linear(hidden, hidden, true);
  }
}
