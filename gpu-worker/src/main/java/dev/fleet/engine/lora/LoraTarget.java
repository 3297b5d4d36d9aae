package dev.fleet.engine.lora;

/**
 * Where one module of a LoRA file lands in BFL's DiT.
 *
 * @param module the BFL linear layer
 * @param rowPart the slice of a fused matrix: its rows start at {@code rowPart · in} (q = 0, k = 1,
 *     v = 2, the single blocks' MLP input = 3, where {@code in} is the hidden size); 0 for a whole
 *     layer
 * @param swapHalves the file's output rows are BFL's with their two halves swapped (diffusers'
 *     {@code norm_out.linear}: scale, shift instead of shift, scale)
 */
record LoraTarget(String module, int rowPart, boolean swapHalves) {

  static LoraTarget whole(String module) {
    return new LoraTarget(module, 0, false);
  }
}
