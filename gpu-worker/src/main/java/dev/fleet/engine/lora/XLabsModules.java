package dev.fleet.engine.lora;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * XLabs' LoRA processors mapped onto BFL's layers: {@code qkv_lora1} / {@code qkv_lora2} onto the
 * image / text {@code qkv}, {@code proj_lora1} / {@code proj_lora2} onto the projections; in single
 * blocks {@code qkv_lora} onto the q, k, v rows of {@code linear1} and {@code proj_lora}, which
 * reads the attention output only, onto the first {@code hidden} inputs of {@code linear2}.
 */
final class XLabsModules {
  private XLabsModules() {}

  private static final Pattern DOUBLE =
      Pattern.compile("double_blocks\\.(\\d+)\\.processor\\.(qkv|proj)_lora([12])");
  private static final Pattern SINGLE =
      Pattern.compile("single_blocks\\.(\\d+)\\.processor\\.(qkv|proj)_lora");

  /** The BFL place of an XLabs module name, or null. */
  static LoraTarget map(String name) {
    Matcher d = DOUBLE.matcher(name);
    if (d.matches()) {
      String stream = d.group(3).equals("1") ? "img" : "txt";
      return LoraTarget.whole("double_blocks." + d.group(1) + "." + stream + "_attn." + d.group(2));
    }
    Matcher s = SINGLE.matcher(name);
    if (s.matches()) {
      return LoraTarget.whole(
          "single_blocks." + s.group(1) + "." + (s.group(2).equals("qkv") ? "linear1" : "linear2"));
    }
    return null;
  }
}
