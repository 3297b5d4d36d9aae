package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;

/**
 * A low-rank side path beside a dense layer: {@code x down^T up^T}, i.e. the layer's output gains
 * {@code (up · down) x} without the product {@code up · down} ever being formed or added to the
 * layer's weight. The strengths and alpha / rank scales of the adapters behind it are already in
 * {@code up}.
 *
 * @param down (rank, in), on the layer's device in its compute dtype
 * @param up (out, rank), on the layer's device in its compute dtype
 */
public record LowRank(NDArray down, NDArray up) {

  /** (..., in) -> (..., out) */
  public NDArray forward(NDArray x) {
    NDArray inner = ai.djl.nn.core.Linear.linear(x, down).singletonOrThrow();
    return ai.djl.nn.core.Linear.linear(inner, up).singletonOrThrow();
  }

  public long rank() {
    return down.getShape().get(0);
  }
}
