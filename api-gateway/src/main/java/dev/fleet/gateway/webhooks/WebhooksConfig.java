package dev.fleet.gateway.webhooks;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Jobs' webhooks ({@code fleet.webhooks.*}): signing, the address policy and the retries. */
@ConfigMapping(prefix = "fleet.webhooks")
public interface WebhooksConfig {

  /**
   * The key of the HMAC-SHA256 signature every event carries. Without it, jobs that name a webhook
   * are refused (422).
   */
  Optional<String> secret();

  /**
   * Hosts, addresses and CIDR blocks (e.g. {@code hooks.internal}, {@code 10.1.2.3}, {@code
   * 192.168.0.0/16}) that webhooks may reach although they are loopback, link-local or private, and
   * over plain http. Everything else must be https to a public address.
   */
  Optional<List<String>> allow();

  /** Deliveries of one event before the relay gives up on it. */
  @WithDefault("20")
  int maxAttempts();

  /** The wait before the second delivery; it doubles per failure, up to {@link #maxBackoff()}. */
  @WithDefault("1s")
  Duration firstBackoff();

  @WithDefault("10m")
  Duration maxBackoff();

  /** How long one POST may take. */
  @WithDefault("10s")
  Duration timeout();

  /** How often the relay looks for due events. */
  @WithDefault("1s")
  Duration pollInterval();
}
