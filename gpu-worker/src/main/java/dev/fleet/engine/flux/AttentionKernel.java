package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import dev.fleet.engine.nn.Attention;

/**
 * Scaled dot-product attention without mask, the one operation of the DiT that a fused kernel (e.g.
 * a TorchScript helper calling {@code F.scaled_dot_product_attention}) can replace.
 */
@FunctionalInterface
public interface AttentionKernel {

  /**
   * {@code softmax(q k^T / sqrt(D)) v}.
   *
   * @param q (B, H, L, D)
   * @param k (B, H, L, D)
   * @param v (B, H, L, D)
   * @return (B, H, L, D) in q's dtype, on q's manager
   */
  NDArray attend(NDArray q, NDArray k, NDArray v);

  /**
   * True when the kernel never holds the (B, H, L, L) scores (a fused kernel); the memory planner
   * counts the scores otherwise.
   */
  default boolean fused() {
    return false;
  }

  /**
   * DJL's own ops (matmul, softmax, matmul). The query is scaled before the product, which keeps
   * float16 scores in range.
   */
  AttentionKernel EAGER =
      (q, k, v) -> {
        float scale = (float) (1.0 / Math.sqrt(q.getShape().get(3)));
        return Attention.sdpa(q.mul(scale), k, v, null, 1f);
      };
}
