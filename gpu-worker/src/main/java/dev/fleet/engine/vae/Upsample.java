package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.nn.Conv2d;
import dev.fleet.engine.weights.Weights;

/** BFL's {@code Upsample}: nearest-neighbour 2x, then a 3x3 conv. */
record Upsample(Conv2d conv) {

  static Upsample load(Weights w, NDManager manager, long channels) {
    return new Upsample(Conv2d.load(w, "conv", manager, channels, channels, 3, 1, 1));
  }

  /** (B, C, H, W) -> (B, C, 2H, 2W) */
  NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      Shape s = x.getShape();
      long b = s.get(0);
      long c = s.get(1);
      long h = s.get(2);
      long w = s.get(3);
      // Each pixel copied into a 2x2 cell: exactly interpolate(scale_factor=2, mode="nearest").
      NDArray doubled =
          x.reshape(b, c, h, 1, w, 1).broadcast(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w);
      return scope.ret(conv.forward(doubled));
    }
  }
}
