package dev.fleet.engine.lora;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * diffusers' {@code FluxTransformer2DModel} layer names mapped onto BFL's: separate q, k, v (and
 * the single blocks' {@code proj_mlp}) projections onto row slices of the fused {@code qkv} /
 * {@code linear1}, {@code norm_out.linear} onto {@code final_layer.adaLN_modulation.1} with its
 * halves swapped. Also in the underscored spelling ({@code
 * lora_transformer_transformer_blocks_0_attn_to_q}).
 */
final class DiffusersModules {
  private DiffusersModules() {}

  private static final Pattern BLOCK =
      Pattern.compile("(single_transformer_blocks|transformer_blocks)[._](\\d+)[._](.+)");

  private static final Map<String, LoraTarget> DOUBLE =
      Map.ofEntries(
          Map.entry("attn.to_q", new LoraTarget("img_attn.qkv", 0, false)),
          Map.entry("attn.to_k", new LoraTarget("img_attn.qkv", 1, false)),
          Map.entry("attn.to_v", new LoraTarget("img_attn.qkv", 2, false)),
          Map.entry("attn.add_q_proj", new LoraTarget("txt_attn.qkv", 0, false)),
          Map.entry("attn.add_k_proj", new LoraTarget("txt_attn.qkv", 1, false)),
          Map.entry("attn.add_v_proj", new LoraTarget("txt_attn.qkv", 2, false)),
          Map.entry("attn.to_out.0", LoraTarget.whole("img_attn.proj")),
          Map.entry("attn.to_add_out", LoraTarget.whole("txt_attn.proj")),
          Map.entry("ff.net.0.proj", LoraTarget.whole("img_mlp.0")),
          Map.entry("ff.net.2", LoraTarget.whole("img_mlp.2")),
          Map.entry("ff_context.net.0.proj", LoraTarget.whole("txt_mlp.0")),
          Map.entry("ff_context.net.2", LoraTarget.whole("txt_mlp.2")),
          Map.entry("norm1.linear", LoraTarget.whole("img_mod.lin")),
          Map.entry("norm1_context.linear", LoraTarget.whole("txt_mod.lin")));

  private static final Map<String, LoraTarget> SINGLE =
      Map.of(
          "attn.to_q", new LoraTarget("linear1", 0, false),
          "attn.to_k", new LoraTarget("linear1", 1, false),
          "attn.to_v", new LoraTarget("linear1", 2, false),
          "proj_mlp", new LoraTarget("linear1", 3, false),
          "proj_out", LoraTarget.whole("linear2"),
          "norm.linear", LoraTarget.whole("modulation.lin"));

  private static final Map<String, LoraTarget> GLOBAL =
      Map.ofEntries(
          Map.entry("x_embedder", LoraTarget.whole("img_in")),
          Map.entry("context_embedder", LoraTarget.whole("txt_in")),
          Map.entry(
              "time_text_embed.timestep_embedder.linear_1", LoraTarget.whole("time_in.in_layer")),
          Map.entry(
              "time_text_embed.timestep_embedder.linear_2", LoraTarget.whole("time_in.out_layer")),
          Map.entry(
              "time_text_embed.text_embedder.linear_1", LoraTarget.whole("vector_in.in_layer")),
          Map.entry(
              "time_text_embed.text_embedder.linear_2", LoraTarget.whole("vector_in.out_layer")),
          Map.entry(
              "time_text_embed.guidance_embedder.linear_1",
              LoraTarget.whole("guidance_in.in_layer")),
          Map.entry(
              "time_text_embed.guidance_embedder.linear_2",
              LoraTarget.whole("guidance_in.out_layer")),
          Map.entry("proj_out", LoraTarget.whole("final_layer.linear")),
          Map.entry("norm_out.linear", new LoraTarget("final_layer.adaLN_modulation.1", 0, true)));

  /**
   * The BFL place of a diffusers module name (dotted, or underscored when {@code underscored}), or
   * null.
   */
  static LoraTarget map(String name, boolean underscored) {
    Matcher m = BLOCK.matcher(name);
    if (m.matches()) {
      boolean single = m.group(1).equals("single_transformer_blocks");
      LoraTarget t = LoraTarget.lookup(single ? SINGLE : DOUBLE, m.group(3), underscored);
      if (t == null) {
        return null;
      }
      String block = (single ? "single_blocks." : "double_blocks.") + m.group(2) + ".";
      return new LoraTarget(block + t.module(), t.rowPart(), t.swapHalves());
    }
    return LoraTarget.lookup(GLOBAL, name, underscored);
  }
}
