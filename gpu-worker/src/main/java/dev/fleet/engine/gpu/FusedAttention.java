package dev.fleet.engine.gpu;

import ai.djl.ndarray.NDArray;
import dev.fleet.engine.flux.AttentionKernel;

/**
 * Attention through PyTorch's fused {@code scaled_dot_product_attention}: on the lent H100 0.45 ms
 * against 4.3 ms for DJL's matmul-softmax-matmul (24 heads x 4608 tokens x 128), and it never
 * materialises the (B, H, L, L) scores.
 */
public final class FusedAttention implements AttentionKernel {
  private final TorchScriptHelpers helpers;

  public FusedAttention(TorchScriptHelpers helpers) {
    this.helpers = helpers;
  }

  @Override
  public boolean fused() {
    return true;
  }

  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v) {
    return helpers.sdpa(q, k, v);
  }
}
