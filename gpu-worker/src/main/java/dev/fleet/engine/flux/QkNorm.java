package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;

/**
 * RMS normalisation of queries and keys per head, before RoPE (BFL's {@code QKNorm}).
 *
 * @param queryNorm scale (D)
 * @param keyNorm scale (D)
 */
public record QkNorm(RmsNorm queryNorm, RmsNorm keyNorm) {

  /** Loads {@code name.query_norm.scale} and {@code name.key_norm.scale}. */
  public static QkNorm load(ParameterLoader w, String name, NDManager m, int headDim) {
    return new QkNorm(
        ShapedLoad.rmsNorm(w, name + ".query_norm.scale", m, headDim),
        ShapedLoad.rmsNorm(w, name + ".key_norm.scale", m, headDim));
  }

  /** q, k (B, H, L, D) normalised, in v's dtype. */
  public NDArray[] forward(NDArray q, NDArray k, NDArray v) {
    return new NDArray[] {
      queryNorm.forward(q).toType(v.getDataType(), false),
      keyNorm.forward(k).toType(v.getDataType(), false)
    };
  }
}
