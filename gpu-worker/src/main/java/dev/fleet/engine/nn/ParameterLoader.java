package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.weights.Weights;

/**
 * Where the DiT's layers get their parameters: by key, in the compute dtype, on the manager's
 * device, with the shape checked. {@link Weights#load} is one (reading the checkpoint); a memory
 * plan can supply another, e.g. one that widens float8 bytes already resident on the device.
 */
@FunctionalInterface
public interface ParameterLoader {

  /**
   * @param expectedShape the shape the layer needs; a mismatch must fail naming the key and both
   *     shapes
   * @return the tensor in the compute dtype, attached to {@code manager}
   */
  NDArray load(String key, NDManager manager, long... expectedShape);

  /** Reads the checkpoint behind {@code weights}. */
  static ParameterLoader of(Weights weights) {
    return weights::load;
  }

  /** The loader under {@code prefix + "."} (e.g. {@code double_blocks.3}). */
  default ParameterLoader scoped(String prefix) {
    return (key, manager, shape) -> load(prefix + "." + key, manager, shape);
  }
}
