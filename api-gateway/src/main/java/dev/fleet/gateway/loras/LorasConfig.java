package dev.fleet.gateway.loras;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Where the LoRAs jobs may name live, and how many a job may use ({@code fleet.loras.*}). */
@ConfigMapping(prefix = "fleet.loras")
public interface LorasConfig {

  /**
   * The directory of LoRA files: {@code NAME.safetensors} is the LoRA {@code NAME}. The workers
   * must see the same files under their {@code fleet.worker.loras-dir}.
   */
  @WithDefault(".fleet/loras")
  String dir();

  /** LoRAs one job may apply together. */
  @WithDefault("4")
  int maxPerJob();

  /** The strength a LoRA may have, both signs. */
  @WithDefault("2")
  double maxStrength();
}
