package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.weights.Weights;

/**
 * Root-mean-square normalisation over the last dimension, with the mean of squares taken in float32
 * whatever the compute dtype (as both T5 and the FLUX QK-norm do, for fp16 safety).
 *
 * @param scale (C)
 */
public record RmsNorm(NDArray scale, float eps) {

  public static RmsNorm load(Weights w, String key, float eps, NDManager manager) {
    return new RmsNorm(w.load(key, manager), eps);
  }

  /** (..., C) -> (..., C), in the dtype of x. */
  public NDArray forward(NDArray x) {
    DataType dtype = x.getDataType();
    NDArray xf = x.toType(DataType.FLOAT32, false);
    NDArray rrms = xf.square().mean(new int[] {-1}, true).add(eps).pow(-0.5f);
    return xf.mul(rrms).toType(dtype, false).mul(scale);
  }
}
