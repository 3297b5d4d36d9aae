package dev.fleet.model.memory;

import java.util.Objects;

/**
 * FLUX's {@link MemoryModel}: bytes on the device for one job, the weights of every component in
 * its storage type and the activation peak of every phase (T5, CLIP, denoising, decoding). Pure
 * arithmetic over the model's dimensions ({@link FluxDims}) and the job's shape; the planner
 * ({@link Planner}) chooses residencies with it.
 *
 * <p>Activations are counted at each moment that can be a peak, as the tensors alive then, per
 * token (or pixel) and in fp16 elements; the comments name them. How many are alive depends on the
 * {@link EngineProfile}: an executor that frees each temporary once its consumer has run (PyTorch's
 * reference counting, in DJL a scope per operation) holds a few; the engine's blocks as written
 * (one DJL scope per block) hold all of a block's until it returns, counted from the code. What the
 * formulas leave out (small vectors, cuBLAS workspaces, the caching allocator's rounding) is what
 * {@link MemoryModel#RESERVE_BYTES} and the calibration on the GPU are for.
 *
 * <p>Notation in comments: B batch, Li image tokens, T text tokens, N = Li + T, h hidden size, m
 * MLP width, H heads, c query rows per attention chunk.
 */
public final class FluxMemoryModel implements MemoryModel {
  /** fp16, the compute dtype on the GPU. */
  static final long F16 = StorageType.COMPUTE.bytes();

  /** float32: positions, RoPE tables, latents and the sampler's state stay in float32. */
  static final long F32 = StorageType.FP32.bytes();

  /**
   * The job's float32 copies of the latents (B, Li, 64) while it runs: the initial noise, the
   * current latents, the predicted velocity and the next step's.
   */
  static final int SAMPLER_LATENT_COPIES = 4;

  /**
   * Copies of a streamed block on the device: the one computing and the next one arriving (a
   * one-block prefetch, as ANCHORS.md's reference streams).
   */
  static final int STREAM_BUFFERS = 2;

  private final FluxDims model;
  private final Workload workload;
  private final EngineProfile engine;

  public FluxMemoryModel(FluxDims model, Workload workload, EngineProfile engine) {
    this.model = Objects.requireNonNull(model, "model");
    this.workload = Objects.requireNonNull(workload, "workload");
    this.engine = Objects.requireNonNull(engine, "engine");
    model.requireTokenGrid(workload);
  }

  public FluxDims model() {
    return model;
  }

  @Override
  public DitDims dit() {
    return model.dit();
  }

  @Override
  public Workload workload() {
    return workload;
  }

  @Override
  public EngineProfile engine() {
    return engine;
  }

  // --- Sequence lengths -------------------------------------------------------------------------

  /** Li: one token per 16x16 pixels. */
  public long imageTokens() {
    return model.imageTokens(workload.width(), workload.height());
  }

  /** T: T5's sequence length. */
  public long textTokens() {
    return model.textTokens();
  }

  /** N = Li + T: the joint sequence of the attention. */
  @Override
  public long tokens() {
    return imageTokens() + textTokens();
  }

  // --- Weights ----------------------------------------------------------------------------------

  /**
   * Stored bytes of one double block: its matrices in the DiT's storage type (fp8 with one float32
   * scale per matrix, as ComfyUI's scaled fp8 stores them), its biases and norm scales in 16 bits
   * (as fp8 checkpoints such as the fixture's {@code flux-fp8-e4m3fn} keep them).
   */
  @Override
  public long doubleBlockBytes() {
    if (workload.storedBlocks() != null) {
      return workload.storedBlocks().doubleBlockBytes();
    }
    DitDims d = model.dit();
    return blockBytes(
        d.doubleBlockMatrixParams(), DitDims.DOUBLE_BLOCK_MATRICES, d.doubleBlockVectorParams());
  }

  /** Stored bytes of one single block (as {@link #doubleBlockBytes}). */
  @Override
  public long singleBlockBytes() {
    if (workload.storedBlocks() != null) {
      return workload.storedBlocks().singleBlockBytes();
    }
    DitDims d = model.dit();
    return blockBytes(
        d.singleBlockMatrixParams(), DitDims.SINGLE_BLOCK_MATRICES, d.singleBlockVectorParams());
  }

  /** A block's matrices in the DiT's storage type with their scales, its vectors in 16 bits. */
  private long blockBytes(long matrixParams, int matrices, long vectorParams) {
    return matrixParams * workload.ditStorage().bytes() + scaleBytes(matrices) + vectorParams * F16;
  }

  /** The float32 scales of {@code matrices} fp8 matrices; none for fp16 storage. */
  private long scaleBytes(int matrices) {
    return workload.ditStorage() == StorageType.FP8 ? matrices * FP8_SCALE_BYTES : 0;
  }

  /** The embedders and the final layer, fp16 on the device (bf16 in checkpoints, widened). */
  @Override
  public long ditNonBlockBytes() {
    return model.dit().nonBlockParams() * F16;
  }

  /** Every block in the DiT's storage type. */
  public long ditBlockBytes() {
    DitDims d = model.dit();
    return d.depth() * doubleBlockBytes() + d.depthSingleBlocks() * singleBlockBytes();
  }

  /** The resident blocks of {@code dit}. */
  @Override
  public long residentBlockBytes(DitResidency dit) {
    return dit.residentDoubleBlocks() * doubleBlockBytes()
        + dit.residentSingleBlocks() * singleBlockBytes();
  }

  /** Bytes copied host-to-device each step: every block that is not resident. */
  @Override
  public long streamedBytesPerStep(DitResidency dit) {
    return dit.streamedDoubleBlocks() * doubleBlockBytes()
        + dit.streamedSingleBlocks() * singleBlockBytes();
  }

  /** T5 in fp16 (checkpoints are bf16 or fp32; DJL computes fp16 on the GPU). */
  @Override
  public long t5Bytes() {
    return model.t5().params() * F16;
  }

  /** One T5 block in fp16: the unit T5 streams in. */
  public long t5LayerBytes() {
    return model.t5().layerParams() * F16;
  }

  /** T5's token embedding in fp16: on the device for the whole T5 phase when T5 streams. */
  public long t5EmbeddingBytes() {
    return model.t5().embeddingParams() * F16;
  }

  @Override
  public long clipBytes() {
    return model.clip().params() * F16;
  }

  /** The whole autoencoder (encoder and decoder, as the engine loads it) in fp16. */
  @Override
  public long autoencoderBytes() {
    return model.autoencoder().params() * F16;
  }

  // --- The DiT's activations --------------------------------------------------------------------

  /**
   * Unfused attention over {@code queries} query rows against {@code keys} keys: the (B, H, c, N)
   * scores and their softmax, both fp16 and alive together (the softmax reads the scores). A fused
   * kernel materialises neither.
   */
  public long attentionScoresBytes(long queries, long keys) {
    if (engine.fusedAttention()) {
      return 0;
    }
    return 2 * workload.batch() * model.dit().numHeads() * queries * keys * F16;
  }

  /** Query rows per attention call: {@code chunk}, or all N when 0 (unchunked) or larger. */
  public long queryRows(int chunk) {
    return chunk <= 0 ? tokens() : Math.min(chunk, tokens());
  }

  /**
   * The activation peak inside a double block, over its two moments. Freeing temporaries:
   *
   * <ul>
   *   <li>attention: the residual streams (N h), joint q, k, v after QK-norm and RoPE (3 N h), the
   *       attention output filling in (N h), and the scores: 5 N h + scores;
   *   <li>MLP of the longer stream (Ls = max(Li, T)): the residuals and the attention output (2 N
   *       h), its modulated norm (Ls h), MLP hidden and its GELU (2 Ls m).
   * </ul>
   *
   * Holding every temporary until the block returns (the engine's DoubleStreamBlock), per token of
   * both streams:
   *
   * <ul>
   *   <li>attention: norm (h), modulate (2h), qkv (3h), QK-norm of q and k through float32 (2 x 8h:
   *       the float32 copy, its square and product at 2h each, the fp16 result and its scaling),
   *       the joint q, k, v (3h), and in the attention's own scope RoPE of q and k through float32
   *       (2 x 11h), the scaled query, the output and its merged heads (3h): 50 N h + scores;
   *   <li>end: those 25h outside the attention scope, its output (h), then per stream projection
   *       (h), gated add (2h), norm (h), modulate (2h), MLP input (m), tanh-GELU's eight
   *       element-wise steps (8m), MLP output (h), gated add (2h), clamp (h): N (36h + 9m).
   * </ul>
   *
   * Plus the block's modulation vectors (B, 2 x 6h).
   */
  public long doubleBlockActivationBytes(int chunk) {
    DitDims d = model.dit();
    long h = d.hiddenSize();
    long m = d.mlpHiddenDim();
    long n = tokens();
    long scores = attentionScoresBytes(queryRows(chunk), n);
    long attention;
    long mlp;
    if (engine.freesTemporaries()) {
      long longer = Math.max(imageTokens(), textTokens());
      attention = 5 * n * h;
      mlp = 2 * n * h + longer * (h + 2 * m);
    } else {
      attention = 50 * n * h;
      mlp = n * (36 * h + 9 * m);
    }
    long modulation = 2 * 6 * h;
    long b = workload.batch();
    return Math.max(attention * F16 * b + scores, mlp * F16 * b) + modulation * F16 * b;
  }

  /**
   * The activation peak inside a single block, over its two moments. Freeing temporaries:
   *
   * <ul>
   *   <li>attention: the residual (N h), linear1's output (N (3h + m): q, k, v and the MLP input in
   *       one tensor, alive until the concat), q and k after QK-norm and RoPE (2 N h; v is a view),
   *       the attention output (N h), and the scores: N (7h + m) + scores;
   *   <li>concat: the residual (N h), linear1's output, the attention output (N h), the GELU of the
   *       MLP part (N m) and the concat of the two (N (h + m)): N (6h + 3m).
   * </ul>
   *
   * Holding every temporary until the block returns (the engine's SingleStreamBlock):
   *
   * <ul>
   *   <li>attention: norm (h), modulate (2h), linear1 (3h + m), q, k, v reshaped out of it (3h),
   *       QK-norm through float32 (16h), and in the attention's scope RoPE (22h) and the scaled
   *       query, output and merged heads (3h): N (50h + m) + scores;
   *   <li>end: the 25h + m outside the attention scope, its output (h), tanh-GELU's eight steps
   *       (8m), the concat (h + m), linear2 (h), gated add (2h), clamp (h): N (31h + 10m).
   * </ul>
   *
   * Plus the block's modulation vectors (B, 3h).
   */
  public long singleBlockActivationBytes(int chunk) {
    DitDims d = model.dit();
    long h = d.hiddenSize();
    long m = d.mlpHiddenDim();
    long n = tokens();
    long scores = attentionScoresBytes(queryRows(chunk), n);
    long attention;
    long concat;
    if (engine.freesTemporaries()) {
      attention = n * (7 * h + m);
      concat = n * (6 * h + 3 * m);
    } else {
      attention = n * (50 * h + m);
      concat = n * (31 * h + 10 * m);
    }
    long modulation = 3 * h;
    long b = workload.batch();
    return Math.max(attention * F16 * b + scores, concat * F16 * b) + modulation * F16 * b;
  }

  /**
   * The fp16 copy of a double block's fp8 matrices while it computes: the whole block, or its
   * widest matrix when widening goes layer by layer. fp16 storage computes in place.
   */
  public long doubleBlockWideningBytes() {
    DitDims d = model.dit();
    StoredBlocks s = workload.storedBlocks();
    return widening(
        s == null ? 0 : s.doubleBlockFloat8Params(),
        d.largestDoubleBlockMatrix(),
        d.doubleBlockMatrixParams());
  }

  /**
   * The fp16 copy of a block's float8 weights while it computes: those the checkpoint really stores
   * ({@code measuredFloat8}, when the workload has {@link StoredBlocks}), else all of its {@code
   * matrixParams} in fp8 storage; or only its widest matrix when widening goes per layer.
   */
  private long widening(long measuredFloat8, long largestMatrix, long matrixParams) {
    long float8 =
        workload.storedBlocks() != null
            ? measuredFloat8
            : workload.ditStorage() == StorageType.FP16 ? 0 : matrixParams;
    if (float8 == 0) {
      return 0;
    }
    return (engine.widensPerLayer() ? Math.min(largestMatrix, float8) : float8) * F16;
  }

  /** As {@link #doubleBlockWideningBytes} for a single block. */
  public long singleBlockWideningBytes() {
    DitDims d = model.dit();
    StoredBlocks s = workload.storedBlocks();
    return widening(
        s == null ? 0 : s.singleBlockFloat8Params(),
        d.largestSingleBlockMatrix(),
        d.singleBlockMatrixParams());
  }

  /**
   * Device buffers for streamed blocks: {@link #STREAM_BUFFERS} of the largest streamed block in
   * its storage type (the one computing, the next arriving); none when every block is resident.
   */
  @Override
  public long streamingBufferBytes(DitResidency dit) {
    long largest = 0;
    if (dit.streamedDoubleBlocks() > 0) {
      largest = doubleBlockBytes();
    }
    if (dit.streamedSingleBlocks() > 0) {
      largest = Math.max(largest, singleBlockBytes());
    }
    return STREAM_BUFFERS * largest;
  }

  /**
   * What the denoising loop holds besides blocks, all steps long: T5's hidden states (B, T, 4096)
   * and CLIP's pooled vector in fp16, RoPE's cos and sin tables in float32 (B, 1, N, D/2) each, the
   * sampler's float32 latents (B, Li, 64), and the LoRA adapters' side paths.
   */
  public long denoiseStateBytes() {
    DitDims d = model.dit();
    long b = workload.batch();
    long conditioning = b * (textTokens() * d.contextInDim() + d.vecInDim()) * F16;
    return conditioning + ropeBytes() + jobStateBytes() + adapterBytes();
  }

  /** RoPE's cos and sin tables of a forward pass, float32 (B, 1, N, D/2) each. */
  public long ropeBytes() {
    return 2 * workload.batch() * tokens() * (model.dit().headDim() / 2) * F32;
  }

  /**
   * The job's own float32 state from its first step to its decode: {@link #SAMPLER_LATENT_COPIES}
   * copies of the latents (B, Li, 64), the image and text token positions (B, N, 3) with their
   * float32 copies, and a few scalars.
   */
  public long jobStateBytes() {
    long b = workload.batch();
    long latents = b * imageTokens() * model.dit().inChannels() * F32;
    return SAMPLER_LATENT_COPIES * latents + 2 * 3 * b * tokens() * F32 + 64;
  }

  /**
   * The job's LoRA side paths: their factors and the (B, N, rank) intermediate of the widest one in
   * fp16.
   */
  @Override
  public long adapterBytes() {
    AdapterLoad a = workload.adapters();
    return a.deviceBytes() + workload.batch() * tokens() * a.rank() * F16;
  }

  /**
   * The denoising phase beyond what is resident in every phase: its state, the stream buffers, and
   * the larger of the two block kinds computing (widened copy plus activations).
   */
  @Override
  public long denoiseWorkingBytes(DitResidency dit, int chunk) {
    DitDims d = model.dit();
    long block = 0;
    if (d.depth() > 0) {
      block = doubleBlockWideningBytes() + doubleBlockActivationBytes(chunk);
    }
    if (d.depthSingleBlocks() > 0) {
      block = Math.max(block, singleBlockWideningBytes() + singleBlockActivationBytes(chunk));
    }
    return denoiseStateBytes() + streamingBufferBytes(dit) + block;
  }

  // --- Text encoders ----------------------------------------------------------------------------

  /**
   * T5's activation peak at its sequence length S, over its two moments per layer: attention
   * (hidden and its norm 2 S d, q k v and output 4 S inner, scores and softmax 2 H S S) and the
   * gated feed-forward (2 S d, wi_0 and wi_1 outputs and their product 3 S d_ff); both at once when
   * a layer's temporaries live until it returns. Plus the position bias (H, S, S), computed once
   * and added in every layer.
   */
  public long t5ActivationBytes() {
    T5Dims t = model.t5();
    long s = textTokens();
    long attention = 2 * s * t.dModel() + 4 * s * t.innerDim() + 2L * t.heads() * s * s;
    long feedForward = 2 * s * t.dModel() + 3 * s * t.dFf();
    return layerPeak(attention, feedForward) * F16 * workload.batch()
        + (long) t.heads() * s * s * F16;
  }

  /** The larger of a layer's two moments, or their sum when nothing is freed in between. */
  private long layerPeak(long first, long second) {
    return engine.encodersFreeTemporaries() ? Math.max(first, second) : first + second;
  }

  /** T5's weights on the device during its phase, beyond what is resident everywhere. */
  public long t5WeightBytes(Residency t5) {
    return switch (t5) {
      case RESIDENT -> 0;
      case STAGED -> t5Bytes();
      case STREAMED -> t5EmbeddingBytes() + STREAM_BUFFERS * t5LayerBytes();
    };
  }

  /**
   * CLIP's activation peak at its 77 tokens: attention (hidden, norm, q k v, output: 6 S h; scores
   * and softmax 2 H S S) and MLP (2 S h and the intermediate with its activation 2 S i), the larger
   * or both (as {@link #t5ActivationBytes}); plus the causal mask (S, S).
   */
  public long clipActivationBytes() {
    ClipDims c = model.clip();
    long s = c.sequenceLength();
    long h = c.hiddenSize();
    long attention = 6 * s * h + 2L * c.heads() * s * s;
    long mlp = 2 * s * h + 2 * s * c.intermediateSize();
    return layerPeak(attention, mlp) * F16 * workload.batch() + s * s * F16;
  }

  /** T5's output, held while CLIP runs. */
  public long t5OutputBytes() {
    return workload.batch() * textTokens() * model.t5().dModel() * F16;
  }

  // --- Autoencoder ------------------------------------------------------------------------------

  /**
   * The decoder's activation peak for one {@code tileHeight x tileWidth} pixel region, in fp16
   * elements per image ({@link DecoderMemory#peakElements}). For FLUX.1 the peak is level 0's first
   * resnet at full resolution, whose input is the level-1 upsample's 256 channels: 768 channels per
   * pixel when temporaries are freed (input, norm, SiLU), 1920 when the block holds them. The
   * middle attention's (S, S) scores over S = pixels / 64 latent cells take over above 1.5 to 3
   * megapixels: tiling bounds both.
   */
  public long decoderPeakElements(long tileHeight, long tileWidth) {
    return decoder().peakElements(tileHeight, tileWidth);
  }

  private DecoderMemory decoder() {
    return new DecoderMemory(model.autoencoder(), engine);
  }

  /**
   * The decode phase beyond what is resident everywhere: the job's float32 state ({@link
   * #jobStateBytes}: its latents are still held), the decoder's activations for the whole image or
   * one tile at a time ({@code tile} pixels per side, 0 for untiled), and the decoded float32 image
   * (B, 3, H, W) the tiles are written into.
   */
  @Override
  public long decodeWorkingBytes(int tile) {
    return jobStateBytes() + decodeActivationBytes(tile, F16);
  }

  /**
   * The decode's own arrays, beside the latents: the decoder's activations ({@code dtypeBytes} per
   * element: 2 for the GPU's float16) and the decoded float32 image.
   */
  public long decodeActivationBytes(int tile, long dtypeBytes) {
    return decoder().activationBytes(workload, tile, dtypeBytes);
  }

  // --- A whole job ------------------------------------------------------------------------------

  /** T5's weights under {@code t5} and its activations. */
  @Override
  public long firstTextPhaseBytes(Residency t5) {
    return t5WeightBytes(t5) + t5ActivationBytes();
  }

  /** T5's output, held while CLIP runs, and CLIP's activations. */
  @Override
  public long secondTextPhaseBytes() {
    return t5OutputBytes() + clipActivationBytes();
  }

  // --- Arithmetic -------------------------------------------------------------------------------

  /**
   * Floating-point operations of one DiT forward (one step: FLUX.1 is guidance-distilled): 2 per
   * multiply-add of every linear layer over the tokens it sees, plus 4 N² h per block for attention
   * (q k^T and the product with v). ANCHORS.md: ≈ 59.5 + 14.9 ≈ 74 TFLOP at 1024².
   */
  @Override
  public double flopsPerStep() {
    DitDims d = model.dit();
    double h = d.hiddenSize();
    double m = d.mlpHiddenDim();
    double li = imageTokens();
    double t = textTokens();
    double n = li + t;
    // Double block, per stream and token: qkv 3h², projection h², MLP 2hm.
    double doubleLinear = n * (4 * h * h + 2 * h * m);
    // Single block: linear1 h (3h + m), linear2 (h + m) h.
    double singleLinear = n * (h * (3 * h + m) + (h + m) * h);
    double embedders =
        li * d.inChannels() * h + t * d.contextInDim() * h + li * h * d.outChannels();
    double linear =
        2 * (d.depth() * doubleLinear + d.depthSingleBlocks() * singleLinear + embedders);
    double attention = 4 * n * n * h * d.blocks();
    return workload.batch() * (linear + attention);
  }
}
