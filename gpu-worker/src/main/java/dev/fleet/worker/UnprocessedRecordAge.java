package dev.fleet.worker;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.PropertiesConfigSource;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * The Kafka connector's {@code throttled.unprocessed-record-max-age.ms} for the job channel,
 * derived from the worker's own limits so that raising {@code fleet.worker.job-timeout} (the Helm
 * chart's {@code FLEET_WORKER_JOB_TIMEOUT}) raises it too. The throttled commit strategy marks the
 * channel failed when a record stays unacknowledged longer than that, and a job's record is
 * acknowledged only when the job has ended: the age must exceed the longest a record can wait. That
 * is two runs — the one ahead of it in the connector's queue and its own — each at most the job
 * timeout plus its writes retried for the retry patience (taking the job, uploading the image,
 * storing the terminal state), plus the drain deadline.
 *
 * <p>A default at a low ordinal: an explicit {@code
 * mp.messaging.incoming.jobs.throttled.unprocessed-record-max-age.ms} wins.
 */
public final class UnprocessedRecordAge implements ConfigSourceFactory {
  static final String PROPERTY =
      "mp.messaging.incoming." + JobConsumer.CHANNEL + ".throttled.unprocessed-record-max-age.ms";

  /** Below application.properties (250), environment (300) and system properties (400). */
  private static final int ORDINAL = 50;

  @Override
  public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
    Duration age =
        maxAge(
            duration(context, "fleet.worker.job-timeout", "10m"),
            duration(context, "fleet.worker.retry-patience", "2m"),
            duration(context, "fleet.worker.drain-timeout", "30s"));
    return List.of(
        new PropertiesConfigSource(
            Map.of(PROPERTY, Long.toString(age.toMillis())), "fleet worker record age", ORDINAL));
  }

  /** Two runs of at most {@code jobTimeout} and three retried writes each, and the drain. */
  static Duration maxAge(Duration jobTimeout, Duration retryPatience, Duration drainTimeout) {
    return jobTimeout.plus(retryPatience.multipliedBy(3)).multipliedBy(2).plus(drainTimeout);
  }

  private static Duration duration(ConfigSourceContext context, String name, String fallback) {
    ConfigValue value = context.getValue(name);
    String text = value == null || value.getValue() == null ? fallback : value.getValue();
    try {
      return DurationConverter.parseDuration(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(name + " is no duration: '" + text + "'", e);
    }
  }
}
