package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.weights.Weights;

/**
 * A dense layer {@code y = x W^T + b} as PyTorch's {@code nn.Linear} stores it, optionally with a
 * low-rank side path (LoRA adapters) added to its output; the weight itself is never changed.
 *
 * @param weight (out, in)
 * @param bias (out), or null
 * @param side the adapters' side path, or null
 */
public record Linear(NDArray weight, NDArray bias, LowRank side) {

  /** A plain layer. */
  public Linear(NDArray weight, NDArray bias) {
    this(weight, bias, null);
  }

  /** Loads {@code name.weight} and, when present, {@code name.bias}. */
  public static Linear load(Weights w, String name, NDManager manager) {
    NDArray weight = w.load(name + ".weight", manager);
    NDArray bias = w.has(name + ".bias") ? w.load(name + ".bias", manager) : null;
    return new Linear(weight, bias);
  }

  /**
   * This layer with {@code adapter} as its side path (replacing any other), or this layer itself
   * when {@code adapter} is null.
   */
  public Linear withSide(LowRank adapter) {
    return adapter == null && side == null ? this : new Linear(weight, bias, adapter);
  }

  /** (..., in) -> (..., out) */
  public NDArray forward(NDArray x) {
    NDArray y =
        bias == null
            ? ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow()
            : ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    return side == null ? y : y.add(side.forward(x));
  }

  public long outFeatures() {
    return weight.getShape().get(0);
  }

  public long inFeatures() {
    return weight.getShape().get(1);
  }
}
