package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;

/**
 * BFL's {@code DiagonalGaussian} with {@code sample=False}: the encoder's moments are the mean and
 * the log-variance stacked on the channel axis, and only the mean is kept.
 */
final class DiagonalGaussian {
  private DiagonalGaussian() {}

  /** (B, 2z, h, w) -> (B, z, h, w): the first half of the channels. */
  static NDArray mean(NDArray moments) {
    return moments.split(2, 1).get(0);
  }
}
