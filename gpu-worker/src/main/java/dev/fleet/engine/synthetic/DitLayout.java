package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.bias;
import static dev.fleet.engine.synthetic.TensorSpec.ones;
import static dev.fleet.engine.synthetic.TensorSpec.weight;

import dev.fleet.model.memory.DitDims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a FLUX.1 transformer checkpoint in the BFL key layout ({@code
 * flux1-dev.safetensors}), as BFL's {@code Flux} module declares them.
 */
public final class DitLayout {
  /** Width of the sinusoidal timestep and guidance embeddings. */
  private DitLayout() {}

  /** Every tensor of the checkpoint: embedders, double blocks, single blocks, output head. */
  public static List<TensorSpec> of(DitDims p) {
    long h = p.hiddenSize();
    List<TensorSpec> out = new ArrayList<>();
    linear(out, "img_in", h, p.inChannels(), true);
    mlpEmbedder(out, "time_in", DitDims.TIME_EMBED_DIM, h);
    mlpEmbedder(out, "vector_in", p.vecInDim(), h);
    if (p.guidanceEmbed()) {
      mlpEmbedder(out, "guidance_in", DitDims.TIME_EMBED_DIM, h);
    }
    linear(out, "txt_in", h, p.contextInDim(), true);
    for (int i = 0; i < p.depth(); i++) {
      out.addAll(doubleBlock(p, i));
    }
    for (int i = 0; i < p.depthSingleBlocks(); i++) {
      out.addAll(singleBlock(p, i));
    }
    linear(out, "final_layer.adaLN_modulation.1", 2 * h, h, true);
    linear(out, "final_layer.linear", p.outChannels(), h, true);
    return out;
  }

  /** {@code double_blocks.i}: an image and a text stream, each modulation, attention and MLP. */
  public static List<TensorSpec> doubleBlock(DitDims p, int i) {
    long h = p.hiddenSize();
    long mlp = p.mlpHiddenDim();
    List<TensorSpec> out = new ArrayList<>();
    for (String stream : List.of("img", "txt")) {
      String s = "double_blocks." + i + "." + stream;
      linear(out, s + "_mod.lin", 6 * h, h, true);
      linear(out, s + "_attn.qkv", 3 * h, h, p.qkvBias());
      qkNorm(out, s + "_attn.norm", p.headDim());
      linear(out, s + "_attn.proj", h, h, true);
      linear(out, s + "_mlp.0", mlp, h, true);
      linear(out, s + "_mlp.2", h, mlp, true);
    }
    return out;
  }

  /** {@code single_blocks.i}: fused qkv+MLP input, fused output, QK norm, modulation. */
  public static List<TensorSpec> singleBlock(DitDims p, int i) {
    long h = p.hiddenSize();
    long mlp = p.mlpHiddenDim();
    String s = "single_blocks." + i;
    List<TensorSpec> out = new ArrayList<>();
    linear(out, s + ".linear1", 3 * h + mlp, h, true);
    linear(out, s + ".linear2", h, h + mlp, true);
    qkNorm(out, s + ".norm", p.headDim());
    linear(out, s + ".modulation.lin", 3 * h, h, true);
    return out;
  }

  /**
   * True for the matrices inside the blocks, which fp8 checkpoints (as the bundled fixture's {@code
   * flux-fp8-e4m3fn.safetensors}) store in float8 while the rest stays bfloat16.
   */
  public static boolean isBlockLinearWeight(TensorSpec t) {
    return (t.name().startsWith("double_blocks.") || t.name().startsWith("single_blocks."))
        && t.name().endsWith(".weight")
        && t.rank() == 2;
  }

  private static void mlpEmbedder(List<TensorSpec> out, String name, long in, long hidden) {
    linear(out, name + ".in_layer", hidden, in, true);
    linear(out, name + ".out_layer", hidden, hidden, true);
  }

  private static void qkNorm(List<TensorSpec> out, String name, long headDim) {
    out.add(ones(name + ".query_norm.scale", headDim));
    out.add(ones(name + ".key_norm.scale", headDim));
  }

  private static void linear(List<TensorSpec> out, String name, long o, long i, boolean hasBias) {
    out.add(weight(name + ".weight", o, i));
    if (hasBias) {
      out.add(bias(name + ".bias", o));
    }
  }
}
