package dev.fleet.gateway.metrics;

import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * The gateway's Prometheus metrics beyond the built-in HTTP and JVM ones: {@code fleet_jobs} by
 * state and memory class (queue depth is {@code state="QUEUED"}), the submission latency and the
 * outbox backlog. The counts come from the database, read at most once per {@link #CACHE} however
 * often Prometheus scrapes.
 */
@Startup
@ApplicationScoped
public class FleetMetrics {
  static final Duration CACHE = Duration.ofSeconds(5);
  private static final Logger LOG = Logger.getLogger(FleetMetrics.class);

  private final JobStore store;
  private final AgroalDataSource dataSource;
  private final Timer submitTimer;
  private volatile Map<JobState, Map<MemoryClass, Long>> counts = Map.of();
  private volatile long backlog;
  private volatile long readAt;

  public FleetMetrics(JobStore store, AgroalDataSource dataSource, MeterRegistry registry) {
    this.store = store;
    this.dataSource = dataSource;
    this.submitTimer =
        Timer.builder("fleet.jobs.submit")
            .description("Time to validate, store and acknowledge a submission")
            .publishPercentileHistogram()
            .register(registry);
    for (JobState state : JobState.values()) {
      for (MemoryClass mc : MemoryClass.values()) {
        Gauge.builder("fleet.jobs", this, m -> m.count(state, mc))
            .description("Jobs in the store by state and memory class")
            .tag("state", state.name())
            .tag("memory_class", mc.className())
            .register(registry);
      }
    }
    Gauge.builder("fleet.outbox.backlog", this, m -> m.backlog())
        .description("Messages in the outbox not yet acknowledged by Kafka")
        .register(registry);
  }

  public Timer submitTimer() {
    return submitTimer;
  }

  private double count(JobState state, MemoryClass mc) {
    refresh();
    return counts.getOrDefault(state, Map.of()).getOrDefault(mc, 0L);
  }

  private double backlog() {
    refresh();
    return backlog;
  }

  private synchronized void refresh() {
    long now = System.nanoTime();
    if (readAt != 0 && now - readAt < CACHE.toNanos()) {
      return;
    }
    readAt = now;
    try {
      counts = store.countByStateAndClass();
      try (Connection c = dataSource.getConnection();
          PreparedStatement ps =
              c.prepareStatement("SELECT count(*) FROM outbox WHERE sent_at IS NULL");
          ResultSet rs = ps.executeQuery()) {
        backlog = rs.next() ? rs.getLong(1) : 0;
      }
    } catch (Exception e) {
      LOG.debugf("metrics: cannot read counts: %s", e.getMessage());
    }
  }
}
