package dev.fleet.model.memory;

import java.util.List;

/**
 * The dimensions of the FLUX autoencoder (BFL's {@code AutoEncoderParams} without scale and shift).
 * Level {@code i} works at {@code ch * chMult[i]} channels and {@code 1 / 2^i} of the image size;
 * the decoder runs the levels coarsest first with one resnet block more per level than the encoder.
 *
 * @param inChannels image channels the encoder reads (3)
 * @param outChannels image channels the decoder writes (3)
 * @param chMult channel multiplier per level, finest first
 * @param numResBlocks resnet blocks per encoder level
 * @param zChannels latent channels
 */
public record AutoencoderDims(
    int inChannels,
    int ch,
    int outChannels,
    List<Integer> chMult,
    int numResBlocks,
    int zChannels) {

  public AutoencoderDims {
    String me = "autoencoder dimensions";
    Dims.positive(me, "in_channels", inChannels);
    Dims.positive(me, "ch", ch);
    Dims.positive(me, "out_ch", outChannels);
    Dims.positive(me, "num_res_blocks", numResBlocks);
    Dims.positive(me, "z_channels", zChannels);
    if (chMult == null || chMult.isEmpty()) {
      throw new IllegalArgumentException(me + ": ch_mult must name at least one level");
    }
    chMult = List.copyOf(chMult);
    for (int m : chMult) {
      Dims.positive(me, "every ch_mult entry", m);
    }
  }

  public int levels() {
    return chMult.size();
  }

  /** Channels of level {@code level}. */
  public long channels(int level) {
    return (long) ch * chMult.get(level);
  }

  /** Pixels per latent cell along each side: {@code 2^(levels - 1)}, 8 for FLUX.1. */
  public int downscale() {
    return 1 << (levels() - 1);
  }

  public long params() {
    return encoderParams() + decoderParams();
  }

  /** Parameters of the encoder, as BFL's {@code Encoder} declares them (no quant convs). */
  public long encoderParams() {
    long in = ch;
    long n = conv(ch, inChannels, 3);
    for (int level = 0; level < levels(); level++) {
      for (int j = 0; j < numResBlocks; j++) {
        n += resnet(in, channels(level));
        in = channels(level);
      }
      if (level != levels() - 1) {
        n += conv(in, in, 3); // downsample
      }
    }
    return n + middle(in) + groupNorm(in) + conv(2L * zChannels, in, 3);
  }

  /** Parameters of the decoder, as BFL's {@code Decoder} declares them. */
  public long decoderParams() {
    long in = channels(levels() - 1);
    long n = conv(in, zChannels, 3) + middle(in);
    for (int level = levels() - 1; level >= 0; level--) {
      for (int j = 0; j <= numResBlocks; j++) {
        n += resnet(in, channels(level));
        in = channels(level);
      }
      if (level != 0) {
        n += conv(in, in, 3); // upsample
      }
    }
    return n + groupNorm(in) + conv(outChannels, in, 3);
  }

  private static long middle(long c) {
    return resnet(c, c) + groupNorm(c) + 4 * conv(c, c, 1) + resnet(c, c);
  }

  private static long resnet(long in, long out) {
    long n = groupNorm(in) + conv(out, in, 3) + groupNorm(out) + conv(out, out, 3);
    return in == out ? n : n + conv(out, in, 1);
  }

  private static long groupNorm(long c) {
    return 2 * c;
  }

  private static long conv(long out, long in, long k) {
    return out * in * k * k + out;
  }
}
