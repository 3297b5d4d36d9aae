package dev.fleet.engine.lora;

/** The key layouts of FLUX LoRA files the engine reads, recognised from the keys. */
public enum LoraFormat {
  /**
   * kohya / sd-scripts: {@code lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight}, {@code
   * .lora_up.weight}, {@code .alpha}.
   */
  KOHYA,
  /**
   * diffusers / PEFT: {@code transformer.transformer_blocks.0.attn.to_q.lora_A.weight}, {@code
   * lora_B}; also under {@code base_model.model.} or as {@code lora_transformer_...lora_down}.
   */
  DIFFUSERS,
  /** XLabs: {@code double_blocks.0.processor.qkv_lora1.down.weight}, no alpha. */
  XLABS,
  /**
   * BFL / ComfyUI native: {@code diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight} (or
   * {@code lora_down/lora_up}), optional alpha.
   */
  BFL
}
