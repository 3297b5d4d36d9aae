package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.weights.Weights;

/**
 * T5's RMS LayerNorm exactly as transformers runs it: the mean of squares in float32, the
 * normalised value cast to the weight's dtype before scaling. Unlike {@code nn.RmsNorm} the output
 * dtype is the weight's, not the input's: in float16 the T5 residual stream turns float32 after the
 * first feed-forward, while every projection still wants float16.
 *
 * @param weight (C)
 */
record T5LayerNorm(NDArray weight, float eps) {

  static T5LayerNorm load(Weights w, String key, long dim, float eps, NDManager manager) {
    return new T5LayerNorm(w.load(key, manager, dim), eps);
  }

  /** (..., C) in float32 or the weight dtype -> (..., C) in the weight dtype */
  NDArray forward(NDArray x) {
    NDArray xf = x.toType(DataType.FLOAT32, false);
    NDArray rrms = xf.square().mean(new int[] {-1}, true).add(eps).pow(-0.5f); // (..., 1)
    return xf.mul(rrms).toType(weight.getDataType(), false).mul(weight);
  }
}
