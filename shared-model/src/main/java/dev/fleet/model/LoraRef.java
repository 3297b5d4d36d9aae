package dev.fleet.model;

import java.util.Locale;

/**
 * One LoRA of a job, by name (a file of the fleet's LoRA directory, never a client path) at a
 * strength: {@code ΔW = strength · (alpha / rank) · up · down}.
 *
 * @param name the LoRA's name, without {@code .safetensors}
 * @param strength any finite number (the gateway limits it further); 0 applies nothing
 */
public record LoraRef(String name, double strength) {

  /** The A1111 prompt tag, {@code <lora:name:0.7>}. */
  public String tag() {
    return "<lora:" + name + ":" + strengthText() + ">";
  }

  /** The strength as people write it: {@code 0.7}, {@code 1}, {@code -0.25}. */
  public String strengthText() {
    if (strength == Math.rint(strength) && Math.abs(strength) < 1e9) {
      return Long.toString((long) strength);
    }
    return String.format(Locale.ROOT, "%s", strength);
  }
}
