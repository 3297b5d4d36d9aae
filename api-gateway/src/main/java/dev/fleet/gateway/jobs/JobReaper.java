package dev.fleet.gateway.jobs;

import dev.fleet.gateway.outbox.OutboxRelayService;
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
 * Looks after the jobs whose worker went away: a running job whose lease has not been heartbeaten
 * for {@code fleet.jobs.lease-expiry} is re-queued as its next attempt, through the outbox (FAILED
 * after the last one); and the jobs that would otherwise wait forever end TIMED_OUT — queued with
 * no worker for their class, or running too long ({@code queue-timeout}, {@code run-timeout}). Both
 * are guarded UPDATEs that take each job once, so every gateway replica may run them.
 */
@ApplicationScoped
public class JobReaper {
  private static final Logger LOG = Logger.getLogger(JobReaper.class);

  /** Jobs re-queued per transaction; a larger backlog takes several in a row. */
  static final int BATCH = 100;

  private final JobStore store;
  private final JobsConfig config;
  private final OutboxRelayService outbox;
  private ScheduledExecutorService timer;

  public JobReaper(JobStore store, JobsConfig config, OutboxRelayService outbox) {
    this.store = store;
    this.config = config;
    this.outbox = outbox;
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
      JobStore.Reaped reaped;
      do {
        reaped = store.requeueExpired(config.leaseExpiry(), BATCH);
        if (reaped.total() > 0) {
          LOG.infof(
              "lease expired: %d job(s) re-queued, %d failed after their last attempt, %d cancelled",
              reaped.requeued(), reaped.deadLettered(), reaped.cancelled());
          outbox.nudge();
        }
      } while (reaped.total() == BATCH);
    } catch (RuntimeException e) {
      LOG.warnf("job reaper: %s", e.getMessage());
    }
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
