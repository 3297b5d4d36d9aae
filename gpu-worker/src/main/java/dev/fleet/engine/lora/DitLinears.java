package dev.fleet.engine.lora;

import dev.fleet.engine.flux.FluxParams;
import java.util.LinkedHashMap;
import java.util.Map;

/** The (out, in) shape of every linear layer of a FLUX DiT a LoRA may adapt, by BFL name. */
public final class DitLinears {
  private static final int TIME_EMBED_DIM = 256;

  private final Map<String, int[]> shapes = new LinkedHashMap<>();
  private final FluxParams params;

  private DitLinears(FluxParams params) {
    this.params = params;
  }

  public static DitLinears of(FluxParams p) {
    DitLinears l = new DitLinears(p);
    int h = p.hiddenSize();
    int mlp = p.mlpHiddenDim();
    l.put("img_in", h, p.inChannels());
    l.put("txt_in", h, p.contextInDim());
    l.put("time_in.in_layer", h, TIME_EMBED_DIM);
    l.put("time_in.out_layer", h, h);
    l.put("vector_in.in_layer", h, p.vecInDim());
    l.put("vector_in.out_layer", h, h);
    if (p.guidanceEmbed()) {
      l.put("guidance_in.in_layer", h, TIME_EMBED_DIM);
      l.put("guidance_in.out_layer", h, h);
    }
    l.put("final_layer.linear", p.outChannels(), h);
    l.put("final_layer.adaLN_modulation.1", 2 * h, h);
    for (int i = 0; i < p.depth(); i++) {
      for (String s : new String[] {"img", "txt"}) {
        String b = "double_blocks." + i + "." + s;
        l.put(b + "_mod.lin", 6 * h, h);
        l.put(b + "_attn.qkv", 3 * h, h);
        l.put(b + "_attn.proj", h, h);
        l.put(b + "_mlp.0", mlp, h);
        l.put(b + "_mlp.2", h, mlp);
      }
    }
    for (int i = 0; i < p.depthSingleBlocks(); i++) {
      String b = "single_blocks." + i + ".";
      l.put(b + "linear1", 3 * h + mlp, h);
      l.put(b + "linear2", h, h + mlp);
      l.put(b + "modulation.lin", 3 * h, h);
    }
    return l;
  }

  private void put(String name, int out, int in) {
    shapes.put(name, new int[] {out, in});
  }

  /** {out, in}, or null when the model has no such layer. */
  public int[] shape(String module) {
    return shapes.get(module);
  }

  /**
   * Checks that every update of {@code adapter} fits a layer of this model.
   *
   * @throws UnsupportedLoraException naming the first update that does not
   */
  public void check(LoraAdapter adapter) {
    for (LoraPatch p : adapter.patches()) {
      int[] s = shapes.get(p.module());
      if (s == null) {
        throw new UnsupportedLoraException(
            "LoRA "
                + adapter.name()
                + ": "
                + p.source()
                + " adapts "
                + p.module()
                + ", which this model does not have ("
                + params.depth()
                + " double and "
                + params.depthSingleBlocks()
                + " single blocks"
                + (params.guidanceEmbed() ? "" : ", no guidance embedder")
                + ")");
      }
      if (p.rowOffset() + p.out() > s[0] || p.in() > s[1]) {
        throw new UnsupportedLoraException(
            "LoRA "
                + adapter.name()
                + ": "
                + p.source()
                + " is ("
                + p.out()
                + ", "
                + p.in()
                + ") at row "
                + p.rowOffset()
                + ", which does not fit "
                + p.module()
                + " ("
                + s[0]
                + ", "
                + s[1]
                + ") of this model (a LoRA for another model?)");
      }
    }
  }
}
