package dev.fleet.engine.lora;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.model.memory.DitDims;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The (out, in) shape of every linear layer of a DiT a LoRA may adapt, by the model's own layer
 * name (BFL's for FLUX, NewBie's for the Next-DiT), and whether the model's text encoder takes the
 * adapters' CLIP updates.
 */
public final class DitLinears {
  private final Map<String, int[]> shapes = new LinkedHashMap<>();

  /** The model in words, for messages: its family and size. */
  private final String model;

  /** Whether CLIP text-encoder updates ({@link LoraPatch#CLIP}) apply to this model. */
  private final boolean clipAdapters;

  private DitLinears(String model, boolean clipAdapters) {
    this.model = model;
    this.clipAdapters = clipAdapters;
  }

  /**
   * The layers of another family's DiT, which takes no CLIP text-encoder updates.
   *
   * @param model the model in words, for messages (e.g. {@code NewBie-image (Next-DiT, 36 layers)})
   * @param shapes layer name to {out, in}
   */
  public static DitLinears of(String model, Map<String, int[]> shapes) {
    DitLinears l = new DitLinears(model, false);
    shapes.forEach((k, v) -> l.put(k, v[0], v[1]));
    return l;
  }

  public static DitLinears of(FluxParams p) {
    return of(
        p.dims().inChannels(),
        p.dims().outChannels(),
        p.dims().vecInDim(),
        p.dims().contextInDim(),
        p.dims().hiddenSize(),
        p.dims().mlpHiddenDim(),
        p.dims().depth(),
        p.dims().depthSingleBlocks(),
        p.dims().guidanceEmbed());
  }

  /** The layers of a DiT of these dimensions. */
  public static DitLinears of(
      int inChannels,
      int outChannels,
      int vecInDim,
      int contextInDim,
      int h,
      int mlp,
      int depth,
      int depthSingle,
      boolean guidance) {
    DitLinears l =
        new DitLinears(
            "FLUX ("
                + depth
                + " double and "
                + depthSingle
                + " single blocks"
                + (guidance ? "" : ", no guidance embedder")
                + ")",
            true);
    l.put("img_in", h, inChannels);
    l.put("txt_in", h, contextInDim);
    l.put("time_in.in_layer", h, DitDims.TIME_EMBED_DIM);
    l.put("time_in.out_layer", h, h);
    l.put("vector_in.in_layer", h, vecInDim);
    l.put("vector_in.out_layer", h, h);
    if (guidance) {
      l.put("guidance_in.in_layer", h, DitDims.TIME_EMBED_DIM);
      l.put("guidance_in.out_layer", h, h);
    }
    l.put("final_layer.linear", outChannels, h);
    l.put("final_layer.adaLN_modulation.1", 2 * h, h);
    for (int i = 0; i < depth; i++) {
      for (String s : new String[] {"img", "txt"}) {
        String b = "double_blocks." + i + "." + s;
        l.put(b + "_mod.lin", 6 * h, h);
        l.put(b + "_attn.qkv", 3 * h, h);
        l.put(b + "_attn.proj", h, h);
        l.put(b + "_mlp.0", mlp, h);
        l.put(b + "_mlp.2", h, mlp);
      }
    }
    for (int i = 0; i < depthSingle; i++) {
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

  /** The family whose DiT alone has a layer of this name, or null. */
  private static String familyOf(String module) {
    boolean flux = BflModules.isLinear(module);
    boolean nextDit = NextDitModules.isLinear(module);
    if (flux == nextDit) {
      return null;
    }
    return flux ? "FLUX" : "NewBie-image (Next-DiT)";
  }

  /**
   * Checks that every update of {@code adapter} fits a layer of this model.
   *
   * @throws UnsupportedLoraException naming the first update that does not
   */
  public void check(LoraAdapter adapter) {
    for (LoraPatch p : adapter.patches()) {
      if (p.isClip()) {
        if (clipAdapters) {
          continue; // the text encoder's, checked against CLIP
        }
        throw new UnsupportedLoraException(
            "LoRA "
                + adapter.name()
                + ": "
                + p.source()
                + " adapts a CLIP text encoder, which this model does not take LoRA updates for"
                + " (this model is "
                + model
                + "; only its DiT takes adapters)");
      }
      int[] s = shapes.get(p.module());
      if (s == null) {
        String family = familyOf(p.module());
        throw new UnsupportedLoraException(
            "LoRA "
                + adapter.name()
                + ": "
                + p.source()
                + " adapts "
                + p.module()
                + (family == null ? "" : ", a layer of " + family + " (a " + family + " LoRA?)")
                + ", which this model does not have (this model is "
                + model
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
