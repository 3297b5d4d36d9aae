package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.Conv2d;
import dev.fleet.engine.nn.GroupNorm;
import dev.fleet.engine.weights.Weights;

/**
 * BFL's {@code AttnBlock}: single-head self-attention over the H*W positions of a feature map, with
 * head size C, 1x1-conv projections and a residual connection. Its score matrix is (H*W)^2 per
 * image, which is what makes the autoencoder's mid block the memory peak at low resolution.
 */
record AttnBlock(GroupNorm norm, Conv2d q, Conv2d k, Conv2d v, Conv2d projOut) {

  /** Loads {@code norm, q, k, v, proj_out} under {@code w}'s prefix. */
  static AttnBlock load(Weights w, NDManager manager, long channels) {
    return new AttnBlock(
        GroupNorm.load(
            w,
            "norm",
            manager,
            channels,
            AutoEncoderParams.NORM_GROUPS,
            AutoEncoderParams.NORM_EPS),
        Conv2d.load(w, "q", manager, channels, channels, 1, 1, 0),
        Conv2d.load(w, "k", manager, channels, channels, 1, 1, 0),
        Conv2d.load(w, "v", manager, channels, channels, 1, 1, 0),
        Conv2d.load(w, "proj_out", manager, channels, channels, 1, 1, 0));
  }

  /** (B, C, H, W) -> (B, C, H, W) */
  NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      Shape shape = x.getShape();
      long c = shape.get(1);
      NDArray h = norm.forward(x);
      // Scaling q before the product (rather than the scores after it) keeps fp16 scores in range.
      NDArray query = tokens(q.forward(h)).mul((float) (1.0 / Math.sqrt(c))); // (B, 1, HW, C)
      NDArray key = tokens(k.forward(h)); // (B, 1, HW, C)
      NDArray value = tokens(v.forward(h)); // (B, 1, HW, C)
      NDArray attended = Attention.sdpa(query, key, value, null, 1f); // (B, 1, HW, C)
      NDArray map = attended.squeeze(1).transpose(0, 2, 1).reshape(shape); // (B, C, H, W)
      return scope.ret(x.add(projOut.forward(map)));
    }
  }

  /** (B, C, H, W) -> (B, 1, H*W, C) */
  private static NDArray tokens(NDArray map) {
    Shape s = map.getShape();
    return map.reshape(s.get(0), s.get(1), -1).transpose(0, 2, 1).expandDims(1);
  }
}
