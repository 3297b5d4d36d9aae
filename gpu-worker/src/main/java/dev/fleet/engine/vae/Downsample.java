package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.nn.Conv2d;
import dev.fleet.engine.weights.Weights;

/**
 * BFL's {@code Downsample}: one zero row and column appended at the bottom and right (torch conv
 * pads only symmetrically), then a stride-2 3x3 conv without padding. H halves, rounding down.
 */
record Downsample(Conv2d conv) {

  /** torch.nn.functional.pad order: (left, right, top, bottom). */
  private static final Shape PAD_BOTTOM_RIGHT = new Shape(0, 1, 0, 1);

  static Downsample load(Weights w, NDManager manager, long channels) {
    return new Downsample(Conv2d.load(w, "conv", manager, channels, channels, 3, 2, 0));
  }

  /** (B, C, H, W) -> (B, C, floor(H/2), floor(W/2)) */
  NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      return scope.ret(conv.forward(x.pad(PAD_BOTTOM_RIGHT, 0)));
    }
  }
}
