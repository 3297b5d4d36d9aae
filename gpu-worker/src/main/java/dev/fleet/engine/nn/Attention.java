package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;

/** Scaled dot-product attention over (B, H, L, D) tensors. */
public final class Attention {
  private Attention() {}

  /**
   * softmax(q k^T * scale + bias) v.
   *
   * @param q (B, H, Lq, D)
   * @param k (B, H, Lk, D)
   * @param v (B, H, Lk, D)
   * @param bias additive, broadcastable to (B, H, Lq, Lk), or null
   * @param scale usually 1/sqrt(D); T5 uses 1
   * @return (B, H, Lq, D)
   */
  public static NDArray sdpa(NDArray q, NDArray k, NDArray v, NDArray bias, float scale) {
    NDArray scores = q.matMul(k.swapAxes(-1, -2));
    if (scale != 1f) {
      scores = scores.mul(scale);
    }
    if (bias != null) {
      scores = scores.add(bias);
    }
    return scores.softmax(-1).matMul(v);
  }

  /** (B, L, H*D) -> (B, H, L, D) */
  public static NDArray splitHeads(NDArray x, long heads) {
    long b = x.getShape().get(0);
    long l = x.getShape().get(1);
    return x.reshape(b, l, heads, -1).transpose(0, 2, 1, 3);
  }

  /** (B, H, L, D) -> (B, L, H*D) */
  public static NDArray mergeHeads(NDArray x) {
    long b = x.getShape().get(0);
    long l = x.getShape().get(2);
    return x.transpose(0, 2, 1, 3).reshape(b, l, -1);
  }
}
