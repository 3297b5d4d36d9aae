package dev.fleet.engine.nextdit;

import dev.fleet.engine.checkpoint.UnrecognisedCheckpointException;
import dev.fleet.engine.safetensors.KeyMappedStore;
import dev.fleet.engine.safetensors.KeyMappedStore.Source;
import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The key layouts a NewBie (Next-DiT with a pooled CLIP path) transformer file comes in, and the
 * view of each in NewBie's own key names, which the engine loads:
 *
 * <ul>
 *   <li>{@link #NEWBIE}: NewBie's {@code models/model.py} names bare ({@code
 *       cap_embedder.1.weight}, {@code layers.N.attention.qkv.weight} …), as in NewBie's {@code
 *       consolidated*.safetensors} and in the diffusers-style folder of
 *       NewBie-AI/NewBie-image-Exp0.1, whose own {@code NewbiePipeline} builds the transformer from
 *       NewBie's class;
 *   <li>{@link #COMFYUI}: the same under {@code model.diffusion_model.}, as ComfyUI saves a
 *       checkpoint;
 *   <li>{@link #DIFFUSERS}: diffusers' {@code Lumina2Transformer2DModel} names with its pooled
 *       projection (diffusers' NewBie support, {@code convert_lumina2_to_diffusers} in {@code
 *       loaders/single_file_utils.py}): {@code time_caption_embed.*}, {@code norm1.linear}, {@code
 *       attn.to_q/to_k/to_v} (fused back into {@code attention.qkv}), {@code
 *       feed_forward.linear_1/2/3}, {@code norm_out.linear_1/2}. Such files lack {@code
 *       norm_final.weight}, which the model never reads.
 * </ul>
 */
public enum NextDitKeyLayout {
  NEWBIE("", "cap_embedder.1.weight", "NewBie's models/model.py names (cap_embedder.1.weight)"),
  COMFYUI(
      NextDitTransformer.COMFY_PREFIX + ".",
      "cap_embedder.1.weight",
      "ComfyUI (model.diffusion_model. + NewBie's names)"),
  DIFFUSERS(
      "",
      "time_caption_embed.caption_embedder.1.weight",
      "diffusers Lumina2Transformer2DModel with a pooled projection"
          + " (time_caption_embed.caption_embedder.1.weight)");

  /** How many keys that did not fit an error shows. */
  private static final int KEYS_SHOWN = 8;

  private final String prefix;
  private final String marker;
  private final String description;

  NextDitKeyLayout(String prefix, String marker, String description) {
    this.prefix = prefix;
    this.marker = marker;
    this.description = description;
  }

  public String description() {
    return description;
  }

  /** The layout of {@code store}, or null when it is none of them. Reads names only. */
  public static NextDitKeyLayout of(TensorStore store) {
    for (NextDitKeyLayout l : values()) {
      if (store.contains(l.prefix + l.marker)) {
        return l;
      }
    }
    return null;
  }

  /**
   * The layout of a transformer file.
   *
   * @throws UnrecognisedCheckpointException naming the file, the layouts tried and the first keys
   */
  public static NextDitKeyLayout detect(TensorStore store) {
    NextDitKeyLayout l = of(store);
    if (l != null) {
      return l;
    }
    throw new UnrecognisedCheckpointException(
        store.describe(),
        "not a NewBie (Next-DiT) transformer in any layout the engine knows; tried "
            + Arrays.stream(values())
                .map(v -> v.description + " [" + v.prefix + v.marker + "]")
                .collect(Collectors.joining("; "))
            + ". First keys: "
            + store.names().stream().limit(KEYS_SHOWN).toList()
            + " ("
            + store.names().size()
            + " tensors in all)");
  }

  /**
   * {@code store} in NewBie's key names: the store itself, its prefixed part, or a renaming view
   * (with q, k and v fused). The view does not own the store: the caller closes it.
   *
   * @throws UnrecognisedCheckpointException as {@link #detect}
   */
  public static TensorStore inNewbieNames(TensorStore store) {
    return switch (detect(store)) {
      case NEWBIE -> store;
      case COMFYUI -> new PrefixedStore(store, COMFYUI.prefix, false);
      case DIFFUSERS ->
          new KeyMappedStore(store, fromDiffusers(store), "diffusers Lumina2 as NewBie", false);
    };
  }

  /** NewBie's names, each with its diffusers source (only those the file holds). */
  private static Map<String, Source> fromDiffusers(TensorStore store) {
    KeyMappedStore.Mapping map = new KeyMappedStore.Mapping(store);
    map.linear("x_embedder", "x_embedder");
    map.linear("t_embedder.mlp.0", "time_caption_embed.timestep_embedder.linear_1");
    map.linear("t_embedder.mlp.2", "time_caption_embed.timestep_embedder.linear_2");
    map.tensor("cap_embedder.0.weight", "time_caption_embed.caption_embedder.0.weight");
    map.linear("cap_embedder.1", "time_caption_embed.caption_embedder.1");
    map.tensor(
        "clip_text_pooled_proj.0.weight", "time_caption_embed.clip_text_pooled_proj.0.weight");
    map.linear("clip_text_pooled_proj.1", "time_caption_embed.clip_text_pooled_proj.1");
    map.linear("time_text_embed.1", "time_caption_embed.time_text_embed.1");
    map.linear("final_layer.adaLN_modulation.1", "norm_out.linear_1");
    map.linear("final_layer.linear", "norm_out.linear_2");
    for (String group : List.of("noise_refiner", "context_refiner", "layers")) {
      for (int i : KeyMappedStore.blockIndices(store, group)) {
        String b = group + "." + i + ".";
        map.stacked(
            b + "attention.qkv.weight",
            b + "attn.to_q.weight",
            b + "attn.to_k.weight",
            b + "attn.to_v.weight");
        map.tensor(b + "attention.out.weight", b + "attn.to_out.0.weight");
        map.tensor(b + "attention.q_norm.weight", b + "attn.norm_q.weight");
        map.tensor(b + "attention.k_norm.weight", b + "attn.norm_k.weight");
        // A modulated block's first norm sits in its RMSNormZero; the context refiner's is bare.
        map.tensor(b + "attention_norm1.weight", b + "norm1.norm.weight");
        map.tensor(b + "attention_norm1.weight", b + "norm1.weight");
        map.tensor(b + "attention_norm2.weight", b + "norm2.weight");
        map.tensor(b + "ffn_norm1.weight", b + "ffn_norm1.weight");
        map.tensor(b + "ffn_norm2.weight", b + "ffn_norm2.weight");
        for (int w = 1; w <= 3; w++) {
          map.tensor(
              b + "feed_forward.w" + w + ".weight", b + "feed_forward.linear_" + w + ".weight");
        }
        map.linear(b + "adaLN_modulation.1", b + "norm1.linear");
      }
    }
    return map.sources();
  }
}
