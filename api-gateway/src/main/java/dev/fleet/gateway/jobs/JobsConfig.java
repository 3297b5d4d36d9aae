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

  /**
   * A running job whose worker has not heartbeaten its lease for this long is re-queued as its next
   * attempt (FAILED after the last): the worker died, hangs or lost the database. Several of the
   * workers' {@code fleet.worker.heartbeat-interval} (10s).
   */
  @WithDefault("60s")
  Duration leaseExpiry();

  /** How often the gateway looks for such jobs (and for expired leases). */
  @WithDefault("30s")
  Duration reaperInterval();

  /**
   * Whether {@code GET /v1/jobs/{id}} answers from memory (the {@code JobReadCache}) while the
   * gateway listens to job changes; off: every read is one query.
   */
  @WithDefault("true")
  boolean readCacheEnabled();

  /** At most this many jobs kept in memory for reads. */
  @WithDefault("100000")
  int readCacheSize();
}
