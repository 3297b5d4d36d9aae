package dev.fleet.model.memory;

import java.util.List;
import java.util.Objects;

/**
 * NewBie-image's {@link MemoryModel}: bytes on the device for one job, phase by phase. The phases
 * are {@link Phase}'s, its two text-encoder slots holding NewBie's encoders: {@code T5} is Gemma 3
 * (the largest component: ≈ 3.8 B parameters as loaded, so it may be staged for its phase or
 * streamed layer by layer, its layer matrices in fp16 or fp8 as {@link Workload#textStorage} says),
 * {@code CLIP} is Jina CLIP v2's text tower; then the Next-DiT's denoising and FLUX's autoencoder's
 * decode.
 *
 * <p>Classifier-free guidance runs the conditional and the unconditional pass as one batch, so the
 * denoiser's batch ({@link #denoiserBatch}) is twice the images', and so is the text encoders'
 * (prompt and negative prompt). The weights stream once per step whatever the batch. The text
 * embeddings are computed in the text phases and held (cached across jobs by the engine) through
 * denoising, when no text encoder needs to be on the device.
 *
 * <p>Activations are counted, as for FLUX ({@link FluxMemoryModel}), as the tensors alive at the
 * moments that can be a peak, in fp16 elements; how many are alive depends on the {@link
 * EngineProfile}. These are first figures from the model's structure, to be calibrated on a GPU
 * against a measured peak as FLUX's were; what they leave out is what {@link
 * MemoryModel#RESERVE_BYTES} is for.
 *
 * <p>Notation in comments: B the denoiser's batch, Li image tokens, T caption tokens (Gemma's
 * sequence length), N = Li + T, d width, kv key width, f feed-forward width, H heads, c query rows
 * per attention chunk.
 */
public final class NewbieMemoryModel implements MemoryModel {
  static final long F16 = StorageType.COMPUTE.bytes();
  static final long F32 = StorageType.FP32.bytes();

  /** The conditional and the unconditional pass, batched. */
  public static final int CFG_PASSES = 2;

  /**
   * The job's float32 copies of the latents: the noise, the current latents, the duplicated [cond,
   * uncond] input and the velocity (counted at the denoiser's batch).
   */
  static final int SAMPLER_LATENT_COPIES = 4;

  /** Bytes per weight of the widening table lookup's int64 indices. */
  static final long WIDENING_INDEX_BYTES = 8;

  /** Copies of a streamed block on the device: the one computing and the next arriving. */
  static final int STREAM_BUFFERS = 2;

  private final NewbieDims model;
  private final Workload workload;
  private final EngineProfile engine;

  public NewbieMemoryModel(NewbieDims model, Workload workload, EngineProfile engine) {
    this.model = Objects.requireNonNull(model, "model");
    this.workload = Objects.requireNonNull(workload, "workload");
    this.engine = Objects.requireNonNull(engine, "engine");
    model.requireTokenGrid(workload);
  }

  /**
   * Gemma's matrices in fp16 and in fp8 (narrowed when loaded, widened layer by layer): the
   * executor runs both, for every residency.
   */
  @Override
  public List<MemoryModel> textStorageVariants() {
    StorageType other =
        workload.textStorage() == StorageType.FP8 ? StorageType.FP16 : StorageType.FP8;
    return List.of(this, new NewbieMemoryModel(model, workload.withTextStorage(other), engine));
  }

  /** Gemma 3 in the T5 slot, Jina CLIP's text tower in the CLIP slot. */
  @Override
  public List<String> textEncoders() {
    return List.of("gemma3", "jina-clip");
  }

  public NewbieDims model() {
    return model;
  }

  @Override
  public Workload workload() {
    return workload;
  }

  @Override
  public EngineProfile engine() {
    return engine;
  }

  @Override
  public DitDims dit() {
    return model.dit();
  }

  // --- Shapes -----------------------------------------------------------------------------------

  /** B: the images' batch, doubled for the unconditional pass. */
  public long denoiserBatch() {
    return (long) CFG_PASSES * workload.batch();
  }

  /** Li: one token per 16x16 pixels. */
  public long imageTokens() {
    return model.imageTokens(workload.width(), workload.height());
  }

  /** T: the caption tokens at most (Gemma's truncation length). */
  public long captionTokens() {
    return model.gemma().sequenceLength();
  }

  /** N = Li + T: the joint blocks' sequence. */
  @Override
  public long tokens() {
    return imageTokens() + captionTokens();
  }

  // --- Weights ----------------------------------------------------------------------------------

  /**
   * Stored bytes of one streamable block: its matrices in the DiT's storage type (fp8 with a
   * float32 scale per matrix), its vectors in 16 bits; or as the checkpoint measured stores it.
   */
  @Override
  public long singleBlockBytes() {
    if (workload.storedBlocks() != null) {
      return workload.storedBlocks().singleBlockBytes();
    }
    NextDitDims d = model.nextDit();
    long scales =
        workload.ditStorage() == StorageType.FP8
            ? NextDitDims.MODULATED_BLOCK_MATRICES * FP8_SCALE_BYTES
            : 0;
    return d.blockMatrixParams(true) * workload.ditStorage().bytes()
        + scales
        + d.blockVectorParams(true) * F16;
  }

  /** Next-DiT has no two-stream blocks. */
  @Override
  public long doubleBlockBytes() {
    return 0;
  }

  /** Embedders, context refiner and final layer in fp16. */
  @Override
  public long ditNonBlockBytes() {
    return model.nextDit().nonBlockParams() * F16;
  }

  @Override
  public long residentBlockBytes(DitResidency dit) {
    return dit.residentSingleBlocks() * singleBlockBytes();
  }

  /** Every streamed block once per step: the guided batch shares one pass over the weights. */
  @Override
  public long streamedBytesPerStep(DitResidency dit) {
    return dit.streamedSingleBlocks() * singleBlockBytes();
  }

  @Override
  public long streamingBufferBytes(DitResidency dit) {
    return dit.streamedSingleBlocks() > 0 ? STREAM_BUFFERS * singleBlockBytes() : 0;
  }

  /**
   * Gemma 3 as loaded (embedding and layers 0 … L−2): the T5 slot's weights. The embedding stays in
   * fp16 whatever the storage (it is only ever gathered row by row, never multiplied whole), the
   * layers are {@link #gemmaLayerBytes}.
   */
  @Override
  public long t5Bytes() {
    GemmaDims g = model.gemma();
    return g.embeddingParams() * F16 + g.loadedLayers() * gemmaLayerBytes();
  }

  /**
   * Stored bytes of one Gemma layer: its matrices in the workload's text storage (fp8 with a
   * float32 scale per matrix), its norm vectors in fp16.
   */
  public long gemmaLayerBytes() {
    GemmaDims g = model.gemma();
    StorageType storage = workload.textStorage();
    long scales = storage == StorageType.FP8 ? GemmaDims.LAYER_MATRICES * FP8_SCALE_BYTES : 0;
    return g.layerMatrixParams() * storage.bytes() + scales + g.layerVectorParams() * F16;
  }

  /**
   * The fp16 copy of one fp8 Gemma layer's matrices while it computes (the executor widens a
   * layer's matrices together, whatever the profile), and, where the engine widens by table lookup
   * rather than per layer by a cast, the lookup's int64 indices of the largest matrix; none for
   * fp16 matrices.
   */
  public long gemmaWideningBytes() {
    if (workload.textStorage() != StorageType.FP8) {
      return 0;
    }
    GemmaDims g = model.gemma();
    long indices = engine.widensPerLayer() ? 0 : WIDENING_INDEX_BYTES * g.largestLayerMatrix();
    return g.layerMatrixParams() * F16 + indices;
  }

  /** Jina's text tower in fp16: the CLIP slot's weights. */
  @Override
  public long clipBytes() {
    return model.jina().params() * F16;
  }

  @Override
  public long autoencoderBytes() {
    return model.autoencoder().params() * F16;
  }

  /** The job's LoRA side paths and their (B, N, rank) intermediate. */
  @Override
  public long adapterBytes() {
    AdapterLoad a = workload.adapters();
    return a.deviceBytes() + denoiserBatch() * tokens() * a.rank() * F16;
  }

  // --- The denoiser's activations ---------------------------------------------------------------

  /** Unfused attention's (B, H, c, s) scores and softmax, alive together; none when fused. */
  public long attentionScoresBytes(long queries, long keys) {
    if (engine.fusedAttention()) {
      return 0;
    }
    return 2 * denoiserBatch() * model.nextDit().heads() * queries * keys * F16;
  }

  /**
   * The activation peak of one block over a sequence of {@code s} tokens (the joint blocks see N,
   * the noise refiner Li, the context refiner T). Freeing temporaries, the larger of:
   *
   * <ul>
   *   <li>attention: the residual (d), its modulated norm (d), qkv (d + 2kv), q and k after their
   *       norms and RoPE (d + kv), k and v repeated to every head (2d), the output (d): s (6d +
   *       3kv) plus the scores;
   *   <li>feed-forward: the residual, its modulated norm (2d), w1's and w3's outputs and their
   *       gated product (3f), w2's output (d): s (3d + 3f).
   * </ul>
   *
   * Holding every temporary until the block returns (one DJL scope per block), both moments at once
   * plus the float32 copies the four sandwich RMS norms and the two QK norms make (2 fp16 elements
   * per float32 element: 4 x 2d + 2 x 2(d + kv)): s (25d + 7kv + 3f) plus the scores. Plus the
   * modulation vectors (B, 4d).
   */
  public long blockActivationBytes(long s, int chunk) {
    NextDitDims d = model.nextDit();
    long w = d.dim();
    long kv = d.kvDim();
    long f = d.ffnDim();
    long queries = chunk <= 0 ? s : Math.min(chunk, s);
    long scores = attentionScoresBytes(queries, s);
    long b = denoiserBatch();
    long modulation = b * 4 * w * F16;
    long attention = s * (6 * w + 3 * kv);
    long ffn = s * (3 * w + 3 * f);
    if (engine.freesTemporaries()) {
      return Math.max(attention * F16 * b + scores, ffn * F16 * b) + modulation;
    }
    long norms = s * (8 * w + 4 * (w + kv));
    return (attention + ffn + norms) * F16 * b + scores + modulation;
  }

  /** The largest block peak of a forward pass: the joint blocks, over N tokens. */
  public long forwardActivationBytes(int chunk) {
    long joint = blockActivationBytes(tokens(), chunk);
    long noise = blockActivationBytes(imageTokens(), chunk);
    long context = blockActivationBytes(captionTokens(), chunk);
    return Math.max(joint, Math.max(noise, context));
  }

  /**
   * The fp16 copy of a streamable block's fp8 matrices while it computes (none for fp16): one
   * matrix at a time where the engine widens per layer (a cast), else the block's all at once and
   * the table lookup's int64 indices of the largest (8 bytes a weight).
   */
  public long blockWideningBytes() {
    NextDitDims d = model.nextDit();
    StoredBlocks s = workload.storedBlocks();
    long float8 =
        s != null
            ? s.singleBlockFloat8Params()
            : workload.ditStorage() == StorageType.FP16 ? 0 : d.blockMatrixParams(true);
    if (float8 == 0) {
      return 0;
    }
    long largest = Math.min(d.largestBlockMatrix(), float8);
    return engine.widensPerLayer() ? largest * F16 : float8 * F16 + WIDENING_INDEX_BYTES * largest;
  }

  /**
   * What the denoising loop holds all steps long besides blocks: the cached text embeddings (the
   * caption features (B, T, capFeatDim) and the pooled vectors (B, clipTextDim), fp16), the refined
   * caption and the assembled joint sequence (B, T, d) and (B, N, d), the conditioning c (B, a),
   * RoPE's cos and sin tables in float32 (B, N, hd/2) each, the job's latents and the LoRA side
   * paths.
   */
  public long denoiseStateBytes() {
    NextDitDims d = model.nextDit();
    long b = denoiserBatch();
    long text = b * (captionTokens() * d.capFeatDim() + d.clipTextDim()) * F16;
    long sequences = b * (captionTokens() + tokens()) * d.dim() * F16 + b * d.adalnDim() * F16;
    long rope = 2 * b * tokens() * (d.headDim() / 2) * F32;
    return text + sequences + rope + jobStateBytes() + adapterBytes();
  }

  /** {@link #SAMPLER_LATENT_COPIES} float32 latents (B, C, H/8, W/8) at the denoiser's batch. */
  public long jobStateBytes() {
    long ds = model.autoencoder().downscale();
    long latentCells = workload.pixels() / (ds * ds);
    return SAMPLER_LATENT_COPIES
        * denoiserBatch()
        * model.nextDit().inChannels()
        * latentCells
        * F32;
  }

  /** Denoising beyond what is resident everywhere: its state, stream buffers, a block computing. */
  @Override
  public long denoiseWorkingBytes(DitResidency dit, int chunk) {
    return denoiseStateBytes()
        + streamingBufferBytes(dit)
        + blockWideningBytes()
        + forwardActivationBytes(chunk);
  }

  // --- Text encoders ----------------------------------------------------------------------------

  /** Prompt and negative prompt, per image. */
  long textBatch() {
    return denoiserBatch();
  }

  /** The larger of a layer's two moments, or their sum when nothing is freed in between. */
  private long layerPeak(long first, long second) {
    return engine.encodersFreeTemporaries() ? Math.max(first, second) : first + second;
  }

  /**
   * Gemma's activation peak at its sequence length S, per layer: attention (the hidden state and
   * its norm 2h, q and k before and after their norms and RoPE 2(H hd + KV hd), v (KV hd), k and v
   * repeated to every head 2 H hd, the output (H hd) and its projection and post-norm (2h): 4h + 5
   * H hd + 3 KV hd; eager scores and softmax 2 H S S) and the GeGLU (hidden, pre-norm, down and
   * post-norm 4h; gate, up, tanh-GELU and product 4f, or 8f with tanh-GELU's steps held); plus the
   * two additive masks (full and sliding window), float32 (B, S, S) each.
   */
  public long gemmaActivationBytes() {
    GemmaDims g = model.gemma();
    long s = g.sequenceLength();
    long h = g.hiddenSize();
    long q = (long) g.heads() * g.headDim();
    long kv = (long) g.kvHeads() * g.headDim();
    long f = g.intermediateSize();
    long attention = s * (4 * h + 5 * q + 3 * kv) + 2L * g.heads() * s * s;
    long ffn = s * (4 * h + (engine.encodersFreeTemporaries() ? 4 : 8) * f);
    long masks = 2 * textBatch() * s * s * F32;
    return layerPeak(attention, ffn) * F16 * textBatch() + masks;
  }

  /** Gemma's weights on the device during its phase, beyond what is resident everywhere. */
  public long gemmaWeightBytes(Residency gemma) {
    return switch (gemma) {
      case RESIDENT -> 0;
      case STAGED -> t5Bytes();
      case STREAMED -> model.gemma().embeddingParams() * F16 + STREAM_BUFFERS * gemmaLayerBytes();
    };
  }

  /** Gemma's caption features, held while Jina runs. */
  public long gemmaOutputBytes() {
    return textBatch() * captionTokens() * model.gemma().hiddenSize() * F16;
  }

  /**
   * Jina's activation peak at its sequence length S: attention (x, Wqkv 3w, rotated q and k 2w,
   * output, projection, sum and LayerNorm 4w: 10w per token; scores and softmax 2 H S S) and the
   * feed-forward (x, fc1 and its exact GELU 2f, or 4f with the erf's steps held, fc2, sum and
   * LayerNorm: 4w); plus the additive key mask, float32 (B, S, S).
   */
  public long jinaActivationBytes() {
    JinaDims j = model.jina();
    long s = j.sequenceLength();
    long w = j.width();
    long f = j.intermediateSize();
    long attention = s * 10 * w + 2L * j.heads() * s * s;
    long ffn = s * (4 * w + (engine.encodersFreeTemporaries() ? 2 : 4) * f);
    return layerPeak(attention, ffn) * F16 * textBatch() + textBatch() * s * s * F32;
  }

  // --- Autoencoder ------------------------------------------------------------------------------

  /** The decode: the job's latents and the decoder's activations, whole or per tile. */
  @Override
  public long decodeWorkingBytes(int tile) {
    return jobStateBytes() + decodeActivationBytes(tile, F16);
  }

  /**
   * The decode's own arrays beside the latents: the decoder's activations ({@code dtypeBytes} per
   * element), whole or per {@code tile}-pixel tile, and the decoded float32 image.
   */
  public long decodeActivationBytes(int tile, long dtypeBytes) {
    return new DecoderMemory(model.autoencoder(), engine)
        .activationBytes(workload, tile, dtypeBytes);
  }

  // --- A whole job ------------------------------------------------------------------------------

  /**
   * Gemma's phase (the T5 slot): its weights under {@code gemma}, a layer's widened matrices when
   * they are fp8, and its activations.
   */
  @Override
  public long firstTextPhaseBytes(Residency gemma) {
    return gemmaWeightBytes(gemma) + gemmaWideningBytes() + gemmaActivationBytes();
  }

  /** Jina's phase (the CLIP slot): Gemma's caption features, held, and Jina's activations. */
  @Override
  public long secondTextPhaseBytes() {
    return gemmaOutputBytes() + jinaActivationBytes();
  }

  // --- Arithmetic -------------------------------------------------------------------------------

  /**
   * Floating-point operations of one step, both guidance passes (before the truncation drops the
   * unconditional one): 2 per multiply-add of every linear layer over the tokens it sees (per block
   * and token: qkv d (d + 2kv), out d², feed-forward 3 d f) plus 4 s² d for each block's attention
   * over its s tokens, and the patch, caption and final projections.
   */
  @Override
  public double flopsPerStep() {
    NextDitDims d = model.nextDit();
    double w = d.dim();
    double perToken = w * (w + 2.0 * d.kvDim()) + w * w + 3.0 * w * d.ffnDim();
    double li = imageTokens();
    double t = captionTokens();
    double n = li + t;
    double linear =
        d.layers() * n * perToken
            + d.refinerLayers() * (li + t) * perToken
            + li * d.patchDim() * w * 2
            + t * d.capFeatDim() * w;
    double attention = 4 * w * (d.layers() * n * n + d.refinerLayers() * (li * li + t * t));
    return denoiserBatch() * (2 * linear + attention);
  }
}
