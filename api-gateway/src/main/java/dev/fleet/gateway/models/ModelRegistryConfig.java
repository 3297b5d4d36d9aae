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

  @WithDefault("flux-tiny")
  String defaultModel();

  Map<String, ModelSettings> models();

  /** One model: its family (for the memory estimate), request defaults and accepted ranges. */
  interface ModelSettings {
    /** {@code flux-1} (FLUX.1-dev/schnell, majicflus) or {@code flux-tiny}. */
    String family();

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
