package dev.fleet.gateway.jobs;

import dev.fleet.model.store.JobStore;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Ends the jobs that would otherwise wait forever: queued with no worker for their class, or
 * running on a worker that hangs ({@code fleet.jobs.queue-timeout}, {@code run-timeout}). A worker
 * that crashes is covered by Kafka's redelivery; this is for the ones that never come back. The
 * UPDATE is idempotent, so every gateway replica may run it.
 */
@ApplicationScoped
public class JobReaper {
  private static final Logger LOG = Logger.getLogger(JobReaper.class);

  private final JobStore store;
  private final JobsConfig config;
  private ScheduledExecutorService timer;

  public JobReaper(JobStore store, JobsConfig config) {
    this.store = store;
    this.config = config;
  }

  void start(@Observes StartupEvent event) {
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("job-reaper").daemon().unstarted(r));
    long every = config.reaperInterval().toMillis();
    timer.scheduleWithFixedDelay(this::reap, every, every, TimeUnit.MILLISECONDS);
  }

  void reap() {
    try {
      int n = store.timeOutStale(config.queueTimeout(), config.runTimeout());
      if (n > 0) {
        LOG.infof("timed out %d stale job(s)", n);
      }
    } catch (RuntimeException e) {
      LOG.warnf("job reaper: %s", e.getMessage());
    }
  }

  void stop(@Observes ShutdownEvent event) {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
