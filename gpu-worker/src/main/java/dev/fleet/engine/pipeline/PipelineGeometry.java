package dev.fleet.engine.pipeline;

import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.vae.AutoEncoderParams;

/**
 * The latent geometry the sampler assumes, FLUX.1's: 16 latent channels of an 8x autoencoder,
 * packed 2x2 into 64 features per token, so one token covers 16x16 pixels.
 */
final class PipelineGeometry {
  /** Latent channels of the FLUX.1 autoencoder; the noise has this many. */
  static final int LATENT_CHANNELS = 16;

  private PipelineGeometry() {}

  /**
   * A DiT or autoencoder of another geometry cannot be paired with the sampler.
   *
   * @throws IllegalArgumentException naming the mismatching sizes
   */
  static void checkCompatible(FluxParams dit, AutoEncoderParams ae) {
    if (ae.dims().zChannels() != LATENT_CHANNELS
        || ae.dims().downscale() != 8
        || dit.dims().inChannels() != LATENT_CHANNELS * 4) {
      throw new IllegalArgumentException(
          "model geometry is not FLUX.1's: autoencoder z_channels="
              + ae.dims().zChannels()
              + " (need "
              + LATENT_CHANNELS
              + "), downscale="
              + ae.dims().downscale()
              + " (need 8), DiT in_channels="
              + dit.dims().inChannels()
              + " (need "
              + LATENT_CHANNELS * 4
              + ")");
    }
  }

  /** The unpacked latent of {@code h} x {@code w} tokens: (1, 16, 2h, 2w). */
  static Shape latentShape(int h, int w) {
    return new Shape(1, LATENT_CHANNELS, 2L * h, 2L * w);
  }
}
