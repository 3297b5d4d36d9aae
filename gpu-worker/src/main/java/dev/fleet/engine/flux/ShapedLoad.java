package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;

/**
 * Loads the DiT's layers with the shapes its parameters demand, so that a checkpoint that does not
 * match them fails at load time with the key and both shapes instead of deep inside a matmul.
 */
final class ShapedLoad {
  private ShapedLoad() {}

  /** BFL's RMSNorm epsilon. */
  static final float RMS_EPS = 1e-6f;

  /** {@code name.weight} (out, in) and, when {@code bias}, {@code name.bias} (out). */
  static Linear linear(
      ParameterLoader w, String name, NDManager m, long out, long in, boolean bias) {
    NDArray weight = w.load(name + ".weight", m, out, in);
    NDArray b = bias ? w.load(name + ".bias", m, out) : null;
    return new Linear(weight, b);
  }

  /** An RMSNorm whose {@code key} holds the (dim) scale. */
  static RmsNorm rmsNorm(ParameterLoader w, String key, NDManager m, long dim) {
    return new RmsNorm(w.load(key, m, dim), RMS_EPS);
  }
}
