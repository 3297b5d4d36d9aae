package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.RmsNorm;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A block's parameters by their checkpoint names relative to the block (BFL's: {@code
 * img_attn.qkv.weight}), as a kernel that computes the whole block takes them; a layer's LoRA side
 * path as {@code NAME.lora_down} and {@code NAME.lora_up}.
 */
final class BlockParameters {
  private final Map<String, NDArray> byName = new LinkedHashMap<>();

  BlockParameters linear(String name, Linear layer) {
    byName.put(name + ".weight", layer.weight());
    if (layer.bias() != null) {
      byName.put(name + ".bias", layer.bias());
    }
    if (layer.side() != null) {
      byName.put(name + ".lora_down", layer.side().down());
      byName.put(name + ".lora_up", layer.side().up());
    }
    return this;
  }

  BlockParameters qkNorm(String name, QkNorm norm) {
    return rms(name + ".query_norm.scale", norm.queryNorm())
        .rms(name + ".key_norm.scale", norm.keyNorm());
  }

  BlockParameters selfAttention(String name, SelfAttention attn) {
    return linear(name + ".qkv", attn.qkv())
        .qkNorm(name + ".norm", attn.norm())
        .linear(name + ".proj", attn.proj());
  }

  private BlockParameters rms(String key, RmsNorm norm) {
    byName.put(key, norm.scale());
    return this;
  }

  /** The names and arrays collected, in the order they were added. */
  Map<String, NDArray> toMap() {
    return byName;
  }
}
