package dev.fleet.engine.lora;

/**
 * The key layouts of LoRA files the engine reads, recognised from the keys: FLUX's, and
 * NewBie-image (Next-DiT) ones in the kohya, diffusers and native layouts.
 */
public enum LoraFormat {
  /**
   * kohya / sd-scripts: {@code lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight}, {@code
   * .lora_up.weight}, {@code .alpha}; for NewBie {@code lora_unet_layers_0_attention_qkv}
   * (ComfyUI's underscored spelling of the model's names).
   */
  KOHYA,
  /**
   * diffusers / PEFT: {@code transformer.transformer_blocks.0.attn.to_q.lora_A.weight}, {@code
   * lora_B}; also under {@code base_model.model.} or as {@code lora_transformer_...lora_down}; for
   * NewBie diffusers' Lumina 2 names, {@code transformer.layers.0.attn.to_q.lora_A.weight}.
   */
  DIFFUSERS,
  /** XLabs: {@code double_blocks.0.processor.qkv_lora1.down.weight}, no alpha. */
  XLABS,
  /**
   * The model's own checkpoint names, as ComfyUI and PEFT on the original model class save them:
   * FLUX's BFL names ({@code diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight}, or {@code
   * lora_down/lora_up}), NewBie's {@code models/model.py} names ({@code
   * diffusion_model.layers.0.attention.qkv.lora_A.weight}, or NewbieLoraTrainer's PEFT {@code
   * base_model.model.layers.0.attention.qkv.lora_A.weight}); optional alpha.
   */
  NATIVE
}
