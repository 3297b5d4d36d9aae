package dev.fleet.engine.lora;

import java.util.LinkedHashMap;
import java.util.Map;

/** The tiny model's adaptable layers and their (out, in) shapes, written out by hand. */
final class DitShapes {
  private DitShapes() {}

  static Map<String, int[]> tiny() {
    int h = LoraFiles.H;
    int mlp = LoraFiles.MLP;
    Map<String, int[]> m = new LinkedHashMap<>();
    m.put("img_in", new int[] {h, 64});
    m.put("txt_in", new int[] {h, 64});
    m.put("time_in.in_layer", new int[] {h, 256});
    m.put("time_in.out_layer", new int[] {h, h});
    m.put("vector_in.in_layer", new int[] {h, 32});
    m.put("vector_in.out_layer", new int[] {h, h});
    m.put("guidance_in.in_layer", new int[] {h, 256});
    m.put("guidance_in.out_layer", new int[] {h, h});
    m.put("final_layer.linear", new int[] {64, h});
    m.put("final_layer.adaLN_modulation.1", new int[] {2 * h, h});
    for (int b = 0; b < 2; b++) {
      for (String s : new String[] {"img", "txt"}) {
        String p = "double_blocks." + b + "." + s;
        m.put(p + "_mod.lin", new int[] {6 * h, h});
        m.put(p + "_attn.qkv", new int[] {3 * h, h});
        m.put(p + "_attn.proj", new int[] {h, h});
        m.put(p + "_mlp.0", new int[] {mlp, h});
        m.put(p + "_mlp.2", new int[] {h, mlp});
      }
      String p = "single_blocks." + b + ".";
      m.put(p + "linear1", new int[] {3 * h + mlp, h});
      m.put(p + "linear2", new int[] {h, h + mlp});
      m.put(p + "modulation.lin", new int[] {3 * h, h});
    }
    return m;
  }
}
