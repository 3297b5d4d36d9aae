package dev.fleet.gateway.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** How the gateway takes jobs ({@code fleet.jobs.*}). */
@ConfigMapping(prefix = "fleet.jobs")
public interface JobsConfig {

  /** Attempts a job gets (a worker crash or transient fault re-queues it) before it fails. */
  @WithDefault("3")
  int maxAttempts();

  /** A job no worker took within this long ends TIMED_OUT. */
  @WithDefault("1h")
  Duration queueTimeout();

  /** A job still running this long after its (last) start ends TIMED_OUT. */
  @WithDefault("30m")
  Duration runTimeout();

  /** How often the gateway looks for such jobs. */
  @WithDefault("30s")
  Duration reaperInterval();
}
