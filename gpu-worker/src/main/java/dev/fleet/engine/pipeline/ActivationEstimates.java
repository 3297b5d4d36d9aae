package dev.fleet.engine.pipeline;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;

/**
 * Device bytes of the activations that the executor books in its ledger: weights are booked by
 * their exact size, activations by these counts. They are counted from this engine's code, where a
 * block's temporaries live until the block returns (DJL frees a scope's arrays when the scope
 * closes, not when the last reference goes), so they are larger than PyTorch's for the same model.
 * Each count is an upper bound of the arrays alive at the worst moment of the call, rounded up; the
 * GPU benchmark measures the truth.
 */
public final class ActivationEstimates {
  private ActivationEstimates() {}

  /**
   * Activations of one DiT forward pass: the largest block's temporaries, the residual streams
   * around it and the attention scores of one chunk.
   *
   * @param imageTokens L
   * @param textTokens T
   * @param dtypeBytes bytes per element of the compute dtype
   * @param attentionChunk query rows per chunk, 0 for all (L + T)
   */
  public static long ditForward(
      FluxParams p,
      int batch,
      long imageTokens,
      long textTokens,
      int dtypeBytes,
      int attentionChunk) {
    long n = imageTokens + textTokens;
    long h = p.hiddenSize();
    long mlp = p.mlpHiddenDim();
    long rows = attentionChunk > 0 ? Math.min(attentionChunk, n) : n;
    // A double block holds ~40 (N, hidden) arrays (norms, modulation, qkv, QK-norm, projections,
    // gated adds) and ~10 (L, mlp) ones (the MLP and its tanh-GELU's steps); a single block fewer.
    long block = n * (40 * h + 10 * mlp) * dtypeBytes;
    // Scores and their softmax for one chunk of query rows, plus RoPE'd q and k in float32.
    long attention = 2L * p.numHeads() * rows * n * dtypeBytes + 8L * n * h * 4;
    // The forward's own arrays: streams, the joint sequence, the text input, RoPE table.
    long streams = 4 * n * h * dtypeBytes + textTokens * p.contextInDim() * dtypeBytes;
    long rope = 8L * n * p.headDim();
    return batch * (block + attention + streams + rope);
  }

  /**
   * Activations of one DiT forward pass when the blocks free each temporary after its last use (the
   * whole-block TorchScript modules): the planner's own figures for that engine ({@link
   * MemoryModel}'s block activation peaks under {@link EngineProfile#DJL_SCRIPTED}), so that the
   * ledger books exactly what the plan was admitted with, plus the RoPE tables.
   *
   * @param dims the model as the planner sees it
   * @param width image width in pixels
   * @param height image height in pixels
   * @param attentionChunk query rows per chunk, 0 for all
   */
  public static long ditForwardFreeingTemporaries(
      ModelDims dims, int width, int height, int attentionChunk) {
    MemoryModel m =
        new MemoryModel(
            dims, new Workload(width, height, 1, StorageType.FP8), EngineProfile.DJL_SCRIPTED);
    long rope = 8L * m.tokens() * dims.dit().headDim();
    return Math.max(
            m.doubleBlockActivationBytes(attentionChunk),
            m.singleBlockActivationBytes(attentionChunk))
        + rope;
  }

  /** T5 then CLIP, one after the other: the larger of the two. */
  public static long textEncode(
      T5Config t5, int t5Length, ClipTextConfig clip, int clipLength, int dtypeBytes) {
    long t5Bytes =
        transformerLayer(t5Length, t5.dModel(), t5.heads(), t5.dFf(), dtypeBytes)
            // the relative position bias (1, H, L, L) lives through the whole encoder
            + (long) t5.heads() * t5Length * t5Length * dtypeBytes;
    long clipBytes =
        transformerLayer(
            clipLength, clip.hiddenSize(), clip.heads(), clip.intermediateSize(), dtypeBytes);
    return Math.max(t5Bytes, clipBytes);
  }

  /** One pre-norm encoder layer with its temporaries alive until it returns. */
  private static long transformerLayer(long l, long width, long heads, long ff, int dtypeBytes) {
    return dtypeBytes * (24 * l * width + 5 * heads * l * l + 10 * l * ff);
  }

  /**
   * Activations of an autoencoder decode of an {@code h} x {@code w} latent: the largest level's
   * resnet block (its GroupNorms work in float32) and, untiled, the mid-block attention's (HW)^2
   * scores. Tiled, a level holds one tile with its margin, parked neighbours live in host memory,
   * and the mid block runs whole on the latent with its attention in chunks.
   *
   * @param tile core tile size in latent pixels, 0 for untiled
   */
  public static long vaeDecode(
      AutoEncoderParams p, int batch, int h, int w, int tile, int dtypeBytes) {
    int levels = p.levels();
    long worst = 0;
    // Untiled resnet blocks keep ~12 maps in the compute dtype and ~4 in float32 until they return;
    // the tiled decoder frees per step: ~4 and ~3.
    long mapsUntiled = 12L * dtypeBytes + 4L * 4;
    long mapsTiled = 4L * dtypeBytes + 3L * 4;
    for (int level = levels - 1; level >= 0; level--) {
      int scale = 1 << (levels - 1 - level);
      long area;
      if (tile == 0) {
        area = (long) h * w * scale * scale;
      } else {
        // at most 13 latent pixels each side (FLUX.1's autoencoder)
        int margin = 2 * PlanMapping.DECODE_MARGIN;
        long side = (long) Math.min(h, tile + margin) * scale;
        long across = (long) Math.min(w, tile + margin) * scale;
        area = side * across;
      }
      long maps = tile == 0 ? mapsUntiled : mapsTiled;
      // The upsample into this level makes the doubled map and its conv output.
      worst = Math.max(worst, maps * p.channels(level) * area);
    }
    long top = p.channels(levels - 1);
    long latentArea = (long) h * w;
    long rows = tile == 0 ? latentArea : Math.min(latentArea, 4096);
    long mid = mapsUntiled * top * latentArea + 2L * rows * latentArea * dtypeBytes;
    // The decoded image in float32 (and its clipped copy) on the device.
    long image = 2L * 4 * p.outCh() * latentArea * p.downscale() * p.downscale();
    return batch * (Math.max(worst, mid) + image);
  }
}
