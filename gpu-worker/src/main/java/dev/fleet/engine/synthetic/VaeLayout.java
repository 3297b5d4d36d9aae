package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.bias;
import static dev.fleet.engine.synthetic.TensorSpec.ones;
import static dev.fleet.engine.synthetic.TensorSpec.weight;
import static dev.fleet.engine.synthetic.TensorSpec.zeros;

import dev.fleet.model.memory.AutoencoderDims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of the FLUX autoencoder in the BFL key layout ({@code ae.safetensors}), as BFL's
 * {@code Encoder} and {@code Decoder} declare them (no quant convs).
 */
public final class VaeLayout {
  private VaeLayout() {}

  public static List<TensorSpec> of(AutoencoderDims p) {
    List<TensorSpec> out = new ArrayList<>();
    encoder(out, p);
    decoder(out, p);
    return out;
  }

  private static void encoder(List<TensorSpec> out, AutoencoderDims p) {
    long in = p.ch();
    conv(out, "encoder.conv_in", in, p.inChannels(), 3);
    for (int level = 0; level < p.levels(); level++) {
      long blockOut = p.channels(level);
      for (int j = 0; j < p.numResBlocks(); j++) {
        resnet(out, "encoder.down." + level + ".block." + j, in, blockOut);
        in = blockOut;
      }
      if (level != p.levels() - 1) {
        conv(out, "encoder.down." + level + ".downsample.conv", in, in, 3);
      }
    }
    middle(out, "encoder.mid", in);
    groupNorm(out, "encoder.norm_out", in);
    conv(out, "encoder.conv_out", 2L * p.zChannels(), in, 3); // mean and log-variance
  }

  private static void decoder(List<TensorSpec> out, AutoencoderDims p) {
    long in = p.channels(p.levels() - 1);
    conv(out, "decoder.conv_in", in, p.zChannels(), 3);
    middle(out, "decoder.mid", in);
    // BFL builds the up path coarsest first but keys it by level, finest = up.0.
    for (int level = p.levels() - 1; level >= 0; level--) {
      long blockOut = p.channels(level);
      for (int j = 0; j <= p.numResBlocks(); j++) {
        resnet(out, "decoder.up." + level + ".block." + j, in, blockOut);
        in = blockOut;
      }
      if (level != 0) {
        conv(out, "decoder.up." + level + ".upsample.conv", in, in, 3);
      }
    }
    groupNorm(out, "decoder.norm_out", in);
    conv(out, "decoder.conv_out", p.outChannels(), in, 3);
  }

  private static void middle(List<TensorSpec> out, String name, long c) {
    resnet(out, name + ".block_1", c, c);
    groupNorm(out, name + ".attn_1.norm", c);
    for (String proj : List.of("q", "k", "v", "proj_out")) {
      conv(out, name + ".attn_1." + proj, c, c, 1);
    }
    resnet(out, name + ".block_2", c, c);
  }

  private static void resnet(List<TensorSpec> out, String name, long in, long o) {
    groupNorm(out, name + ".norm1", in);
    conv(out, name + ".conv1", o, in, 3);
    groupNorm(out, name + ".norm2", o);
    conv(out, name + ".conv2", o, o, 3);
    if (in != o) {
      conv(out, name + ".nin_shortcut", o, in, 1);
    }
  }

  private static void groupNorm(List<TensorSpec> out, String name, long c) {
    out.add(ones(name + ".weight", c));
    out.add(zeros(name + ".bias", c));
  }

  private static void conv(List<TensorSpec> out, String name, long o, long i, long k) {
    out.add(weight(name + ".weight", o, i, k, k));
    out.add(bias(name + ".bias", o));
  }
}
