package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Attention;

/**
 * The DiT's attention over the joint text + image sequence (BFL's {@code math.attention}): RoPE on
 * queries and keys, attention, heads merged. One instance serves every block of a forward pass.
 *
 * @param pe positions of the joint sequence (text first, then image)
 * @param kernel the attention operation
 */
public record FluxAttention(RopeEmbedding pe, AttentionKernel kernel) {

  /**
   * @param q (B, H, L, D)
   * @param k (B, H, L, D)
   * @param v (B, H, L, D)
   * @return (B, L, H*D)
   */
  public NDArray forward(NDArray q, NDArray k, NDArray v) {
    // Its own scope: the (B, H, L, L) scores are the largest temporaries of a block, free them now.
    try (NDManager scope = NDManager.subManagerOf(q)) {
      scope.tempAttachAll(q, k, v);
      NDArray out = kernel.attend(pe.apply(q), pe.apply(k), v);
      return scope.ret(Attention.mergeHeads(out));
    }
  }
}
