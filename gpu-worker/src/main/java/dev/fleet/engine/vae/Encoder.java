package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Conv2d;
import dev.fleet.engine.nn.GroupNorm;
import dev.fleet.engine.weights.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * BFL's {@code Encoder}: conv_in, per level {@code num_res_blocks} resnet blocks and (except at the
 * coarsest level) a downsample, the mid block (resnet, attention, resnet), then norm, swish and a
 * conv to the 2*z moments of the latent Gaussian.
 */
record Encoder(
    Conv2d convIn,
    List<Level> down,
    ResnetBlock mid1,
    AttnBlock midAttn,
    ResnetBlock mid2,
    GroupNorm normOut,
    Conv2d convOut) {

  /**
   * One resolution level ({@code encoder.down.i}).
   *
   * @param downsample null at the coarsest level
   */
  record Level(List<ResnetBlock> blocks, Downsample downsample) {
    Level {
      blocks = List.copyOf(blocks);
    }
  }

  Encoder {
    down = List.copyOf(down);
  }

  /** Loads every tensor under {@code w}'s prefix ({@code encoder.}), checking each shape. */
  static Encoder load(Weights w, AutoEncoderParams p, NDManager manager) {
    long ch = p.dims().ch();
    Conv2d convIn = Conv2d.load(w, "conv_in", manager, ch, p.dims().inChannels(), 3, 1, 1);
    List<Level> down = new ArrayList<>();
    long blockIn = ch;
    for (int level = 0; level < p.dims().levels(); level++) {
      Weights lw = w.scoped("down." + level);
      long blockOut = p.dims().channels(level);
      List<ResnetBlock> blocks = new ArrayList<>();
      for (int i = 0; i < p.dims().numResBlocks(); i++) {
        blocks.add(ResnetBlock.load(lw.scoped("block." + i), manager, blockIn, blockOut));
        blockIn = blockOut;
      }
      Downsample ds =
          level == p.dims().levels() - 1
              ? null
              : Downsample.load(lw.scoped("downsample"), manager, blockIn);
      down.add(new Level(blocks, ds));
    }
    float eps = AutoEncoderParams.NORM_EPS;
    int groups = AutoEncoderParams.NORM_GROUPS;
    return new Encoder(
        convIn,
        down,
        ResnetBlock.load(w.scoped("mid.block_1"), manager, blockIn, blockIn),
        AttnBlock.load(w.scoped("mid.attn_1"), manager, blockIn),
        ResnetBlock.load(w.scoped("mid.block_2"), manager, blockIn, blockIn),
        GroupNorm.load(w, "norm_out", manager, blockIn, groups, eps),
        Conv2d.load(w, "conv_out", manager, 2L * p.dims().zChannels(), blockIn, 3, 1, 1));
  }

  /** (B, in, H, W) -> (B, 2z, H/f, W/f) moments, f = 2^(levels-1). */
  NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      NDArray h = convIn.forward(x);
      for (Level level : down) {
        for (ResnetBlock block : level.blocks()) {
          h = replace(h, block.forward(h));
        }
        if (level.downsample() != null) {
          h = replace(h, level.downsample().forward(h));
        }
      }
      h = replace(h, mid1.forward(h));
      h = replace(h, midAttn.forward(h));
      h = replace(h, mid2.forward(h));
      NDArray out = convOut.forward(Activations.silu(normOut.forward(h)));
      return scope.ret(out);
    }
  }

  /** Frees an activation as soon as the next one exists, so peak memory is two feature maps. */
  private static NDArray replace(NDArray previous, NDArray next) {
    previous.close();
    return next;
  }
}
