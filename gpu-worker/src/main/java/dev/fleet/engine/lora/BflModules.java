package dev.fleet.engine.lora;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The linear layers of BFL's FLUX DiT that a LoRA may adapt, by their dotted names ({@code
 * double_blocks.0.img_attn.qkv}) and by kohya's underscored spelling of them ({@code
 * double_blocks_0_img_attn_qkv}).
 */
final class BflModules {
  private BflModules() {}

  private static final Pattern DOUBLE =
      Pattern.compile(
          "double_blocks\\.(\\d+)\\.(img|txt)_(attn\\.qkv|attn\\.proj|mlp\\.0|mlp\\.2|mod\\.lin)");
  private static final Pattern SINGLE =
      Pattern.compile("single_blocks\\.(\\d+)\\.(linear1|linear2|modulation\\.lin)");
  private static final Pattern DOUBLE_UNDERSCORED =
      Pattern.compile("double_blocks_(\\d+)_(img|txt)_(attn_qkv|attn_proj|mlp_0|mlp_2|mod_lin)");
  private static final Pattern SINGLE_UNDERSCORED =
      Pattern.compile("single_blocks_(\\d+)_(linear1|linear2|modulation_lin)");

  /** The embedders' and the head's layers, underscored spelling to dotted name. */
  private static final Map<String, String> GLOBALS = new LinkedHashMap<>();

  static {
    for (String g :
        new String[] {
          "img_in",
          "txt_in",
          "time_in.in_layer",
          "time_in.out_layer",
          "vector_in.in_layer",
          "vector_in.out_layer",
          "guidance_in.in_layer",
          "guidance_in.out_layer",
          "final_layer.linear",
          "final_layer.adaLN_modulation.1"
        }) {
      GLOBALS.put(g.replace('.', '_'), g);
    }
  }

  /** True when {@code name} is an adaptable layer of the DiT in BFL's dotted names. */
  static boolean isLinear(String name) {
    return GLOBALS.containsValue(name)
        || DOUBLE.matcher(name).matches()
        || SINGLE.matcher(name).matches();
  }

  /** kohya's spelling to the dotted name, or null when it names no adaptable layer. */
  static String fromUnderscored(String name) {
    String global = GLOBALS.get(name);
    if (global != null) {
      return global;
    }
    Matcher d = DOUBLE_UNDERSCORED.matcher(name);
    if (d.matches()) {
      return "double_blocks." + d.group(1) + "." + d.group(2) + "_" + d.group(3).replace('_', '.');
    }
    Matcher s = SINGLE_UNDERSCORED.matcher(name);
    if (s.matches()) {
      return "single_blocks." + s.group(1) + "." + s.group(2).replace('_', '.');
    }
    return null;
  }
}
