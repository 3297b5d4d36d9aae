package dev.fleet.gateway.models;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Map;

/**
 * The models this fleet serves ({@code fleet.models.NAME.*}) and the one a request without {@code
 * model} gets ({@code fleet.default-model}).
 */
@ConfigMapping(prefix = "fleet")
public interface ModelRegistryConfig {

  @WithDefault("flux-shapes")
  String defaultModel();

  Map<String, ModelSettings> models();

  /** One model: its family (for the memory planner), request defaults and accepted ranges. */
  interface ModelSettings {
    /**
     * The dimensions its jobs are planned with: {@code flux-dev} (FLUX.1-dev and its fine-tunes
     * such as majicflus), {@code flux-schnell} or {@code tiny} (the bundled fixture).
     */
    String family();

    /**
     * How workers store the transformer's blocks: {@code fp8} (the fleet's way) or {@code fp16}.
     */
    @WithDefault("fp8")
    String ditStorage();

    int defaultSteps();

    int defaultWidth();

    int defaultHeight();

    double defaultGuidance();

    @WithDefault("16")
    int minSide();

    int maxSide();

    int maxSteps();
  }
}
