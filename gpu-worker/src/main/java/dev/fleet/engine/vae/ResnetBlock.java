package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Conv2d;
import dev.fleet.engine.nn.GroupNorm;
import dev.fleet.engine.weights.Weights;

/**
 * BFL's {@code ResnetBlock}: two GroupNorm-swish-conv3x3 stages added to the input, which a 1x1
 * {@code nin_shortcut} projects when the channel count changes.
 *
 * @param ninShortcut null when in and out channels agree
 */
record ResnetBlock(
    GroupNorm norm1, Conv2d conv1, GroupNorm norm2, Conv2d conv2, Conv2d ninShortcut) {

  /** Loads {@code norm1, conv1, norm2, conv2[, nin_shortcut]} under {@code w}'s prefix. */
  static ResnetBlock load(Weights w, NDManager manager, long in, long out) {
    int groups = AutoEncoderParams.NORM_GROUPS;
    float eps = AutoEncoderParams.NORM_EPS;
    return new ResnetBlock(
        GroupNorm.load(w, "norm1", manager, in, groups, eps),
        Conv2d.load(w, "conv1", manager, out, in, 3, 1, 1),
        GroupNorm.load(w, "norm2", manager, out, groups, eps),
        Conv2d.load(w, "conv2", manager, out, out, 3, 1, 1),
        in == out ? null : Conv2d.load(w, "nin_shortcut", manager, out, in, 1, 1, 0));
  }

  /** (B, in, H, W) -> (B, out, H, W) */
  NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      NDArray h = conv1.forward(Activations.silu(norm1.forward(x)));
      h = conv2.forward(Activations.silu(norm2.forward(h)));
      NDArray skip = ninShortcut == null ? x : ninShortcut.forward(x);
      return scope.ret(skip.add(h));
    }
  }
}
