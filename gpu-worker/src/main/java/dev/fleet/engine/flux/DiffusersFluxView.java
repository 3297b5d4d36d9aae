package dev.fleet.engine.flux;

import dev.fleet.engine.safetensors.KeyMappedStore;
import dev.fleet.engine.safetensors.KeyMappedStore.Source;
import dev.fleet.engine.safetensors.TensorStore;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A diffusers-layout FLUX transformer ({@code FluxTransformer2DModel}: {@code x_embedder}, {@code
 * transformer_blocks.N.attn.to_q} ...) seen under the BFL key names the engine loads. Separate q,
 * k, v (and the single blocks' {@code proj_mlp}) projections are concatenated along the output rows
 * into BFL's fused {@code qkv} / {@code linear1}, and the output head's modulation, which diffusers
 * stores as (scale, shift), is given back in BFL's (shift, scale) order. Renamed tensors are served
 * from the underlying mapping without a copy; fused or reordered ones are assembled in a new buffer
 * on every read (see {@link KeyMappedStore}). The view owns the underlying store.
 */
public final class DiffusersFluxView {
  private static final Logger LOG = LoggerFactory.getLogger(DiffusersFluxView.class);

  private DiffusersFluxView() {}

  /** True when the store holds a diffusers-layout FLUX transformer. */
  public static boolean isDiffusersLayout(TensorStore store) {
    return store.contains("x_embedder.weight") && !store.contains("img_in.weight");
  }

  /**
   * The store in the BFL key layout: a view when it is in the diffusers layout, the store itself
   * otherwise. Either way, closing the result closes the store.
   */
  public static TensorStore inBflLayout(TensorStore store) {
    if (!isDiffusersLayout(store)) {
      return store;
    }
    LOG.info("{} is in the diffusers layout; mapping its keys to BFL's", store.describe());
    return new KeyMappedStore(store, mapping(store), "diffusers layout as BFL", true);
  }

  private static Map<String, Source> mapping(TensorStore store) {
    KeyMappedStore.Mapping map = new KeyMappedStore.Mapping(store);
    map.linear("img_in", "x_embedder");
    map.linear("txt_in", "context_embedder");
    map.linear("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1");
    map.linear("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2");
    map.linear("vector_in.in_layer", "time_text_embed.text_embedder.linear_1");
    map.linear("vector_in.out_layer", "time_text_embed.text_embedder.linear_2");
    map.linear("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1");
    map.linear("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2");
    map.linear("final_layer.linear", "proj_out");
    for (String p : List.of(".weight", ".bias")) {
      map.swapped("final_layer.adaLN_modulation.1" + p, "norm_out.linear" + p);
    }
    for (int i : KeyMappedStore.blockIndices(store, "transformer_blocks")) {
      String b = "double_blocks." + i + ".";
      String d = "transformer_blocks." + i + ".";
      map.linear(b + "img_mod.lin", d + "norm1.linear");
      map.linear(b + "txt_mod.lin", d + "norm1_context.linear");
      map.fused(b + "img_attn.qkv", d + "attn.to_q", d + "attn.to_k", d + "attn.to_v");
      map.fused(
          b + "txt_attn.qkv", d + "attn.add_q_proj", d + "attn.add_k_proj", d + "attn.add_v_proj");
      map.tensor(b + "img_attn.norm.query_norm.scale", d + "attn.norm_q.weight");
      map.tensor(b + "img_attn.norm.key_norm.scale", d + "attn.norm_k.weight");
      map.tensor(b + "txt_attn.norm.query_norm.scale", d + "attn.norm_added_q.weight");
      map.tensor(b + "txt_attn.norm.key_norm.scale", d + "attn.norm_added_k.weight");
      map.linear(b + "img_attn.proj", d + "attn.to_out.0");
      map.linear(b + "txt_attn.proj", d + "attn.to_add_out");
      map.linear(b + "img_mlp.0", d + "ff.net.0.proj");
      map.linear(b + "img_mlp.2", d + "ff.net.2");
      map.linear(b + "txt_mlp.0", d + "ff_context.net.0.proj");
      map.linear(b + "txt_mlp.2", d + "ff_context.net.2");
    }
    for (int i : KeyMappedStore.blockIndices(store, "single_transformer_blocks")) {
      String b = "single_blocks." + i + ".";
      String d = "single_transformer_blocks." + i + ".";
      map.linear(b + "modulation.lin", d + "norm.linear");
      map.fused(b + "linear1", d + "attn.to_q", d + "attn.to_k", d + "attn.to_v", d + "proj_mlp");
      map.tensor(b + "norm.query_norm.scale", d + "attn.norm_q.weight");
      map.tensor(b + "norm.key_norm.scale", d + "attn.norm_k.weight");
      map.linear(b + "linear2", d + "proj_out");
    }
    return map.sources();
  }
}
