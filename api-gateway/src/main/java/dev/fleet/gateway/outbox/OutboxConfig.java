package dev.fleet.gateway.outbox;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** The relay from the outbox table to Kafka ({@code fleet.outbox.*}). */
@ConfigMapping(prefix = "fleet.outbox")
public interface OutboxConfig {

  /** Rows sent per round. */
  @WithDefault("100")
  int batchSize();

  /** How often the relay looks for rows that no local submission announced (other gateways). */
  @WithDefault("500ms")
  Duration pollInterval();

  /** The longest wait between rounds while Kafka refuses messages (doubling from 250 ms). */
  @WithDefault("10s")
  Duration maxBackoff();

  /** The producer's delivery.timeout.ms: how long one send may take before it counts as failed. */
  @WithDefault("10s")
  Duration deliveryTimeout();

  /**
   * On shutdown, how long the relay keeps sending what is left in the outbox before the gateway
   * exits (rows still unsent then wait for the next gateway to start: nothing is lost).
   */
  @WithDefault("10s")
  Duration drainTimeout();
}
