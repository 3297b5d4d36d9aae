package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * The float16 overflow guard of the DiT blocks: FLUX's residual stream can outgrow float16, and
 * ComfyUI and diffusers clamp the block outputs to the largest finite half (±65504) so that one
 * overflow does not turn into infinities and NaNs downstream.
 */
final class HalfPrecision {
  private HalfPrecision() {}

  static final float HALF_MAX = 65504f;

  /** x clamped to ±65504 when it is float16, x itself otherwise. */
  static NDArray clampIfHalf(NDArray x) {
    return x.getDataType() == DataType.FLOAT16 ? x.clip(-HALF_MAX, HALF_MAX) : x;
  }
}
