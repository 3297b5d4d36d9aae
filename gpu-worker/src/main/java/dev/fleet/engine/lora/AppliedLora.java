package dev.fleet.engine.lora;

/**
 * An adapter at a strength: {@code ΔW = strength · (alpha / rank) · up · down}.
 *
 * @param strength any finite number; 0 applies nothing at all
 */
public record AppliedLora(LoraAdapter adapter, double strength) {
  public AppliedLora {
    if (!Double.isFinite(strength)) {
      throw new IllegalArgumentException(
          "LoRA " + adapter.name() + ": strength must be a finite number, got " + strength);
    }
  }
}
