package dev.fleet.gateway.auth;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** How the gateway checks API keys ({@code fleet.auth.*}). */
@ConfigMapping(prefix = "fleet.auth")
public interface AuthConfig {

  /**
   * A checked key is kept in memory (no query per request) for at most this long; a revocation
   * drops it at once. 0 turns the cache off.
   */
  @WithDefault("60s")
  Duration keyCacheTtl();

  /** At most this many checked keys are kept. */
  @WithDefault("10000")
  int keyCacheSize();
}
