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
 * BFL's {@code Decoder}: conv_in from z channels, the mid block (resnet, attention, resnet), then
 * the levels from coarsest to finest, each {@code num_res_blocks + 1} resnet blocks and (except at
 * the finest level) a nearest-2x upsample, then norm, swish and conv_out to image channels.
 *
 * @param up indexed as BFL's {@code decoder.up}: level 0 is the finest and runs last
 */
record Decoder(
    Conv2d convIn,
    ResnetBlock mid1,
    AttnBlock midAttn,
    ResnetBlock mid2,
    List<Level> up,
    GroupNorm normOut,
    Conv2d convOut) {

  /**
   * One resolution level ({@code decoder.up.i}).
   *
   * @param upsample null at the finest level (0)
   */
  record Level(List<ResnetBlock> blocks, Upsample upsample) {
    Level {
      blocks = List.copyOf(blocks);
    }
  }

  Decoder {
    up = List.copyOf(up);
  }

  /** Loads every tensor under {@code w}'s prefix ({@code decoder.}), checking each shape. */
  static Decoder load(Weights w, AutoEncoderParams p, NDManager manager) {
    int levels = p.dims().levels();
    long blockIn = p.dims().channels(levels - 1);
    Conv2d convIn = Conv2d.load(w, "conv_in", manager, blockIn, p.dims().zChannels(), 3, 1, 1);
    ResnetBlock mid1 = ResnetBlock.load(w.scoped("mid.block_1"), manager, blockIn, blockIn);
    AttnBlock midAttn = AttnBlock.load(w.scoped("mid.attn_1"), manager, blockIn);
    ResnetBlock mid2 = ResnetBlock.load(w.scoped("mid.block_2"), manager, blockIn, blockIn);
    Level[] up = new Level[levels];
    for (int level = levels - 1; level >= 0; level--) {
      Weights lw = w.scoped("up." + level);
      long blockOut = p.dims().channels(level);
      List<ResnetBlock> blocks = new ArrayList<>();
      for (int i = 0; i < p.dims().numResBlocks() + 1; i++) {
        blocks.add(ResnetBlock.load(lw.scoped("block." + i), manager, blockIn, blockOut));
        blockIn = blockOut;
      }
      Upsample us = level == 0 ? null : Upsample.load(lw.scoped("upsample"), manager, blockIn);
      up[level] = new Level(blocks, us);
    }
    return new Decoder(
        convIn,
        mid1,
        midAttn,
        mid2,
        List.of(up),
        GroupNorm.load(
            w,
            "norm_out",
            manager,
            blockIn,
            AutoEncoderParams.NORM_GROUPS,
            AutoEncoderParams.NORM_EPS),
        Conv2d.load(w, "conv_out", manager, p.dims().outChannels(), blockIn, 3, 1, 1));
  }

  /** (B, z, h, w) -> (B, out, h*f, w*f), f = 2^(levels-1). */
  NDArray forward(NDArray z) {
    try (NDManager scope = NDManager.subManagerOf(z)) {
      scope.tempAttachAll(z);
      NDArray h = convIn.forward(z);
      h = replace(h, mid1.forward(h));
      h = replace(h, midAttn.forward(h));
      h = replace(h, mid2.forward(h));
      for (int level = up.size() - 1; level >= 0; level--) {
        Level l = up.get(level);
        for (ResnetBlock block : l.blocks()) {
          h = replace(h, block.forward(h));
        }
        if (l.upsample() != null) {
          h = replace(h, l.upsample().forward(h));
        }
      }
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
