package dev.fleet.gateway.limits;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * What one caller may ask of the gateway ({@code fleet.limits.*}); a tenant may have its own values
 * ({@code fleet.limits.tenants."NAME".*}).
 */
@ConfigMapping(prefix = "fleet.limits")
public interface LimitsConfig {

  /** Submissions per second that one API key may make, on average (0: no limit). */
  @WithDefault("5")
  double submitRate();

  /** Submissions one API key may make at once before the rate applies. */
  @WithDefault("20")
  int submitBurst();

  /** Jobs a tenant may have queued or running at once (0: no limit). */
  @WithDefault("50")
  int maxActiveJobs();

  /** The Retry-After of a submission refused for the active-jobs cap. */
  @WithDefault("10s")
  Duration activeJobsRetryAfter();

  /** The largest request body the API reads, in bytes; larger ones get 413. */
  @WithDefault("65536")
  long maxBodyBytes();

  /** Per tenant: values that replace the ones above. */
  Map<String, TenantLimits> tenants();

  /** One tenant's own limits; absent values are the general ones. */
  interface TenantLimits {
    Optional<Double> submitRate();

    Optional<Integer> submitBurst();

    Optional<Integer> maxActiveJobs();
  }

  default double submitRate(String tenant) {
    TenantLimits t = tenants().get(tenant);
    return t != null && t.submitRate().isPresent() ? t.submitRate().get() : submitRate();
  }

  default int submitBurst(String tenant) {
    TenantLimits t = tenants().get(tenant);
    return t != null && t.submitBurst().isPresent() ? t.submitBurst().get() : submitBurst();
  }

  default int maxActiveJobs(String tenant) {
    TenantLimits t = tenants().get(tenant);
    return t != null && t.maxActiveJobs().isPresent() ? t.maxActiveJobs().get() : maxActiveJobs();
  }
}
