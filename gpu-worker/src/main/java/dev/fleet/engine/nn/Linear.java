package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.weights.Weights;

/**
 * A dense layer {@code y = x W^T + b} as PyTorch's {@code nn.Linear} stores it.
 *
 * @param weight (out, in)
 * @param bias (out), or null
 */
public record Linear(NDArray weight, NDArray bias) {

  /** Loads {@code name.weight} and, when present, {@code name.bias}. */
  public static Linear load(Weights w, String name, NDManager manager) {
    NDArray weight = w.load(name + ".weight", manager);
    NDArray bias = w.has(name + ".bias") ? w.load(name + ".bias", manager) : null;
    return new Linear(weight, bias);
  }

  /** (..., in) -> (..., out) */
  public NDArray forward(NDArray x) {
    return bias == null
        ? ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow()
        : ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
  }

  public long outFeatures() {
    return weight.getShape().get(0);
  }

  public long inFeatures() {
    return weight.getShape().get(1);
  }
}
