package dev.fleet.model.memory;

import java.util.Objects;

/**
 * The activation memory of BFL's autoencoder decoder, whichever family decodes with it (FLUX, and
 * NewBie-image, which uses FLUX's autoencoder with its own scale and shift): per pixel of a tile it
 * depends only on the autoencoder's dimensions and on whether the executor frees temporaries, so
 * both families' memory models price it here rather than each with its own copy.
 */
record DecoderMemory(AutoencoderDims autoencoder, EngineProfile engine) {

  DecoderMemory {
    Objects.requireNonNull(autoencoder, "autoencoder");
    Objects.requireNonNull(engine, "engine");
  }

  /**
   * The decoder's activation peak for one {@code tileHeight x tileWidth} pixel region, in fp16
   * elements per image, walking BFL's decoder: conv_in, the middle (resnet, single-head attention
   * over every latent cell, resnet), then each level coarsest first (resnets, upsample), norm_out
   * and conv_out.
   */
  long peakElements(long tileHeight, long tileWidth) {
    AutoencoderDims ae = autoencoder;
    int top = ae.levels() - 1;
    long topCells = cells(tileHeight, tileWidth, top);
    long in = ae.channels(top);
    long peak = (ae.zChannels() + in) * topCells; // conv_in
    peak = Math.max(peak, resnetPeak(in, in) * topCells);
    // Middle attention, one head over `in` channels, and the (S, S) scores with their softmax:
    // x, its norm, q, k, v (5 C S); held until it returns, also the output, projection and sum.
    long attentionMaps = engine.encodersFreeTemporaries() ? 5 : 8;
    peak = Math.max(peak, attentionMaps * in * topCells + 2 * topCells * topCells);
    for (int level = top; level >= 0; level--) {
      long r = cells(tileHeight, tileWidth, level);
      for (int j = 0; j <= ae.numResBlocks(); j++) {
        peak = Math.max(peak, resnetPeak(in, ae.channels(level)) * r);
        in = ae.channels(level);
      }
      if (level != 0) {
        // Upsample: the input, its nearest-neighbour 2x copy and the conv of that.
        long finer = cells(tileHeight, tileWidth, level - 1);
        peak = Math.max(peak, in * r + 2 * in * finer);
      }
    }
    long full = cells(tileHeight, tileWidth, 0);
    // norm_out and SiLU on the input, conv_out's few channels.
    return Math.max(peak, (3 * in + ae.outChannels()) * full);
  }

  /**
   * A resnet block's live channels per pixel. Freeing temporaries: first its input, the norm and
   * the SiLU of it (3 in); later the input (kept for the shortcut) with three out-channel tensors
   * (conv, norm, SiLU; then conv, shortcut, sum). Holding them until it returns (the engine's
   * ResnetBlock): the input, norm, sigmoid and SiLU (4 in) with conv, norm, sigmoid, SiLU, conv,
   * shortcut and sum (7 out); or, inside the first GroupNorm's own scope, the input with the
   * float32 copy and its normalisation (5 in).
   */
  long resnetPeak(long in, long out) {
    return engine.encodersFreeTemporaries()
        ? Math.max(3 * in, in + 3 * out)
        : Math.max(5 * in, 4 * in + 7 * out);
  }

  /**
   * The decode's own arrays for {@code workload.batch()} images: the decoder's activations for the
   * whole image or one {@code tile}-pixel tile at a time (0 for untiled), {@code dtypeBytes} per
   * element (2 for the GPU's float16), and the decoded float32 image (B, 3, H, W).
   */
  long activationBytes(Workload workload, int tile, long dtypeBytes) {
    long b = workload.batch();
    long th = tile <= 0 ? workload.height() : Math.min(tile, workload.height());
    long tw = tile <= 0 ? workload.width() : Math.min(tile, workload.width());
    long image = b * autoencoder.outChannels() * workload.pixels() * StorageType.FP32.bytes();
    return b * peakElements(th, tw) * dtypeBytes + image;
  }

  /** Pixels of a region at {@code level}, 1 / 2^level of its size per side. */
  private static long cells(long height, long width, int level) {
    long div = 1L << level;
    return ceilDiv(height, div) * ceilDiv(width, div);
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
