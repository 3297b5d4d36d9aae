package dev.fleet.engine.nn;

/**
 * The low-rank side paths (LoRA adapters) of one forward pass, by the BFL name of the linear layer
 * they belong to ({@code double_blocks.3.img_attn.qkv}, {@code final_layer.linear} ...). A layer is
 * given its side path when its block is leased, so resident, streamed and on-demand blocks are
 * adapted alike, and the base weights are never touched.
 */
@FunctionalInterface
public interface Adapters {

  /** No adapters: every layer is used as loaded. */
  Adapters NONE = module -> null;

  /** The side path of the linear layer {@code module}, or null. */
  LowRank side(String module);

  /** {@code layer} with the side path of {@code module}, if any. */
  default Linear adapt(Linear layer, String module) {
    return this == NONE ? layer : layer.withSide(side(module));
  }
}
