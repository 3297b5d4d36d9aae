package dev.fleet.engine.checkpoint;

import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The components ComfyUI saves beside the transformer in an all-in-one checkpoint, each under its
 * prefix: the autoencoder (BFL's {@code ae.safetensors} names), CLIP-L and T5-XXL (transformers'
 * names). The transformer itself sits under {@code model.diffusion_model.} ({@link DitKeyLayout}).
 */
public enum EmbeddedComponent {
  VAE("vae.", "encoder.conv_in.weight"),
  CLIP("text_encoders.clip_l.transformer.", "text_model.embeddings.token_embedding.weight"),
  T5("text_encoders.t5xxl.transformer.", "encoder.block.0.layer.0.SelfAttention.q.weight");

  private final String prefix;
  private final String marker;

  EmbeddedComponent(String prefix, String marker) {
    this.prefix = prefix;
    this.marker = marker;
  }

  public String prefix() {
    return prefix;
  }

  /** A tensor (after the prefix) the component always has. */
  public String marker() {
    return marker;
  }

  /** The components {@code file} holds (the header only is read), with where their weights are. */
  public static Map<EmbeddedComponent, ComponentWeights> in(Path file, TensorStore store) {
    Map<EmbeddedComponent, ComponentWeights> out = new EnumMap<>(EmbeddedComponent.class);
    for (EmbeddedComponent c : values()) {
      if (store.contains(c.prefix + c.marker)
          && PrefixedStore.count(store, c.prefix) > DitKeyLayout.PREFIX_MIN_KEYS) {
        out.put(c, new ComponentWeights(file, c.prefix));
      }
    }
    return out;
  }
}
