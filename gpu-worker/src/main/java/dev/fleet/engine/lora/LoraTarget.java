package dev.fleet.engine.lora;

import java.util.Map;

/**
 * Where one module of a LoRA file lands in the DiT, in the model's own layer names.
 *
 * @param module the model's linear layer
 * @param rowPart with {@code outPart}, the slice of a fused matrix: its rows start at {@code
 *     rowPart · in + outPart · out}, where {@code in} and {@code out} are the update's own widths
 *     (FLUX: q = 0, k = 1, v = 2, the single blocks' MLP input = 3, all {@code in} rows wide;
 *     Next-DiT's grouped-query {@code qkv}: q at 0, k at {@code in}, v at {@code in + out}, its k
 *     and v narrower than q); 0 and 0 for a whole layer
 * @param outPart see {@code rowPart}
 * @param swapHalves the file's output rows are the model's with their two halves swapped
 *     (diffusers' FLUX {@code norm_out.linear}: scale, shift instead of shift, scale)
 */
record LoraTarget(String module, int rowPart, int outPart, boolean swapHalves) {

  /** A slice starting at {@code rowPart · in}. */
  LoraTarget(String module, int rowPart, boolean swapHalves) {
    this(module, rowPart, 0, swapHalves);
  }

  static LoraTarget whole(String module) {
    return new LoraTarget(module, 0, 0, false);
  }

  /** The first row of the layer an update of {@code in} inputs and {@code out} rows writes. */
  long rowOffset(int in, int out) {
    return (long) rowPart * in + (long) outPart * out;
  }

  /**
   * The target of module {@code name} in {@code table} (keyed by dotted module names), or null:
   * with {@code underscored}, {@code name} is spelt with every dot written as an underscore, as
   * kohya's keys are.
   */
  static LoraTarget lookup(Map<String, LoraTarget> table, String name, boolean underscored) {
    if (!underscored) {
      return table.get(name);
    }
    for (Map.Entry<String, LoraTarget> e : table.entrySet()) {
      if (e.getKey().replace('.', '_').equals(name)) {
        return e.getValue();
      }
    }
    return null;
  }
}
