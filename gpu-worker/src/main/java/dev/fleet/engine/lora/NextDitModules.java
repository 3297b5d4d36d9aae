package dev.fleet.engine.lora;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The linear layers of NewBie-image's Next-DiT that a LoRA may adapt, in NewBie's {@code
 * models/model.py} names ({@code layers.3.attention.qkv}, {@code noise_refiner.0.feed_forward.w2},
 * {@code time_text_embed.1}), and the other spellings LoRA files use for them: kohya's underscored
 * ({@code layers_3_attention_qkv}) and diffusers' {@code Lumina2Transformer2DModel} names ({@code
 * layers.3.attn.to_q}, {@code feed_forward.linear_1}, {@code norm1.linear}, {@code
 * time_caption_embed.*}, {@code norm_out.linear_1/2}), dotted or underscored, whose separate q, k
 * and v land on the rows of the fused grouped-query {@code qkv}: q at 0, k after q's {@code dim}
 * rows, v after k's.
 */
final class NextDitModules {
  private NextDitModules() {}

  private static final String GROUPS = "(layers|noise_refiner|context_refiner)";
  private static final String LAYERS =
      "(attention\\.qkv|attention\\.out|feed_forward\\.w[123]|adaLN_modulation\\.1)";

  private static final Pattern BLOCK = Pattern.compile(GROUPS + "\\.(\\d+)\\." + LAYERS);
  private static final Pattern BLOCK_UNDERSCORED =
      Pattern.compile(GROUPS + "_(\\d+)_" + LAYERS.replace("\\.", "_"));
  private static final Pattern DIFFUSERS_BLOCK = Pattern.compile(GROUPS + "[._](\\d+)[._](.+)");

  /**
   * A file with a module named so (past its prefix) is a Next-DiT LoRA, not a FLUX one (FLUX's
   * diffusers names have a {@code time_text_embed.timestep_embedder}, never {@code
   * time_text_embed.1}).
   */
  private static final Pattern MARK =
      Pattern.compile(
          "(?:"
              + GROUPS
              + "[._]\\d+[._]|t_embedder[._]mlp[._]|cap_embedder[._]1$"
              + "|clip_text_pooled_proj[._]1$|time_text_embed[._]1$|time_caption_embed[._]).*");

  private static final String[] GLOBALS = {
    "x_embedder",
    "t_embedder.mlp.0",
    "t_embedder.mlp.2",
    "cap_embedder.1",
    "clip_text_pooled_proj.1",
    "time_text_embed.1",
    "final_layer.linear",
    "final_layer.adaLN_modulation.1"
  };

  /** diffusers' names of a block's layers (and ComfyUI's Z-Image spellings of the attention). */
  private static final Map<String, LoraTarget> DIFFUSERS_LAYERS =
      Map.ofEntries(
          Map.entry("attn.to_q", new LoraTarget("attention.qkv", 0, 0, false)),
          Map.entry("attn.to_k", new LoraTarget("attention.qkv", 1, 0, false)),
          Map.entry("attn.to_v", new LoraTarget("attention.qkv", 1, 1, false)),
          Map.entry("attn.to_out.0", LoraTarget.whole("attention.out")),
          Map.entry("attention.to_q", new LoraTarget("attention.qkv", 0, 0, false)),
          Map.entry("attention.to_k", new LoraTarget("attention.qkv", 1, 0, false)),
          Map.entry("attention.to_v", new LoraTarget("attention.qkv", 1, 1, false)),
          Map.entry("attention.to_out.0", LoraTarget.whole("attention.out")),
          Map.entry("feed_forward.linear_1", LoraTarget.whole("feed_forward.w1")),
          Map.entry("feed_forward.linear_2", LoraTarget.whole("feed_forward.w2")),
          Map.entry("feed_forward.linear_3", LoraTarget.whole("feed_forward.w3")),
          Map.entry("norm1.linear", LoraTarget.whole("adaLN_modulation.1")));

  private static final Map<String, String> DIFFUSERS_GLOBALS =
      Map.of(
          "x_embedder", "x_embedder",
          "time_caption_embed.timestep_embedder.linear_1", "t_embedder.mlp.0",
          "time_caption_embed.timestep_embedder.linear_2", "t_embedder.mlp.2",
          "time_caption_embed.caption_embedder.1", "cap_embedder.1",
          "time_caption_embed.clip_text_pooled_proj.1", "clip_text_pooled_proj.1",
          "time_caption_embed.time_text_embed.1", "time_text_embed.1",
          "norm_out.linear_1", "final_layer.adaLN_modulation.1",
          "norm_out.linear_2", "final_layer.linear");

  private static final Map<String, String> UNDERSCORED_GLOBALS = new LinkedHashMap<>();

  static {
    for (String g : GLOBALS) {
      UNDERSCORED_GLOBALS.put(g.replace('.', '_'), g);
    }
  }

  /** True when {@code name}, past any prefix, names a Next-DiT layer in some spelling. */
  static boolean marks(String name) {
    return MARK.matcher(name).matches();
  }

  /** True when {@code name} is an adaptable layer of the Next-DiT in NewBie's names. */
  static boolean isLinear(String name) {
    return BLOCK.matcher(name).matches() || java.util.Arrays.asList(GLOBALS).contains(name);
  }

  /** kohya's spelling to NewBie's name, or null when it names no adaptable layer. */
  static String fromUnderscored(String name) {
    String global = UNDERSCORED_GLOBALS.get(name);
    if (global != null) {
      return global;
    }
    Matcher b = BLOCK_UNDERSCORED.matcher(name);
    if (!b.matches()) {
      return null;
    }
    String layer =
        b.group(3)
            .replace("attention_", "attention.")
            .replace("feed_forward_", "feed_forward.")
            .replace("adaLN_modulation_", "adaLN_modulation.");
    return b.group(1) + "." + b.group(2) + "." + layer;
  }

  /**
   * The NewBie place of a diffusers module name (dotted, or underscored when {@code underscored}),
   * or null.
   */
  static LoraTarget fromDiffusers(String name, boolean underscored) {
    Matcher m = DIFFUSERS_BLOCK.matcher(name);
    if (m.matches()) {
      LoraTarget t = LoraTarget.lookup(DIFFUSERS_LAYERS, m.group(3), underscored);
      if (t == null) {
        return null;
      }
      String block = m.group(1) + "." + m.group(2) + ".";
      return new LoraTarget(block + t.module(), t.rowPart(), t.outPart(), false);
    }
    for (Map.Entry<String, String> e : DIFFUSERS_GLOBALS.entrySet()) {
      if ((underscored ? e.getKey().replace('.', '_') : e.getKey()).equals(name)) {
        return LoraTarget.whole(e.getValue());
      }
    }
    return null;
  }
}
