package dev.fleet.worker;

import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.Lease;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps the leases of the jobs this worker runs: every {@code interval} a heartbeat on a timer
 * thread of its own, so that a step (or a model load) of any length never lets the lease expire
 * while the worker is alive. When the store says the lease is no longer the job's, the hold is
 * {@link Hold#lost() lost}: the run stops at its next step and its result is discarded. A heartbeat
 * that fails (the database is away) is not a loss: the gateway's reaper decides on expiry.
 */
public final class LeaseKeeper implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

  private final JobStore store;
  private final Duration interval;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().name("fleet-heartbeat").daemon().unstarted(r));

  public LeaseKeeper(JobStore store, Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("heartbeat interval must be positive, got " + interval);
    }
    this.store = store;
    this.interval = interval;
  }

  /** Starts heartbeating {@code lease} until the returned hold is closed. */
  public Hold hold(Lease lease) {
    Hold hold = new Hold(lease);
    long every = interval.toMillis();
    hold.task = timer.scheduleWithFixedDelay(hold::beat, every, every, TimeUnit.MILLISECONDS);
    return hold;
  }

  /** One run's lease while the run lasts; closing it stops the heartbeats and releases the row. */
  public final class Hold implements AutoCloseable {
    private final Lease lease;
    private volatile ScheduledFuture<?> task;
    private volatile boolean lost;

    private Hold(Lease lease) {
      this.lease = lease;
    }

    public Lease lease() {
      return lease;
    }

    /** Whether the store has said that the job is no longer this run's. */
    public boolean lost() {
      return lost;
    }

    private void beat() {
      try {
        if (!store.heartbeat(lease)) {
          lost = true;
          task.cancel(false);
          LOG.infof(
              "job %s attempt %d: lease no longer held; the job is %s",
              lease.jobId(), lease.attempt(), whereabouts());
        }
      } catch (RuntimeException e) {
        LOG.warnf("job %s: heartbeat failed: %s", lease.jobId(), e.getMessage());
      }
    }

    /** What became of the job, for the log: finished, re-queued, or run by another worker. */
    private String whereabouts() {
      try {
        return store
            .find(lease.jobId())
            .map(
                j ->
                    j.state()
                        + " at attempt "
                        + j.attempts()
                        + (j.worker() == null ? "" : " on " + j.worker()))
            .orElse("gone");
      } catch (RuntimeException e) {
        return "unknown (" + e.getMessage() + ")";
      }
    }

    /**
     * Stops heartbeating but keeps the lease row: the run ended without storing the job's outcome,
     * and the row lets the gateway's reaper find the job once the lease expires.
     */
    public void abandon() {
      task.cancel(false);
    }

    @Override
    public void close() {
      task.cancel(false);
      try {
        store.release(lease);
      } catch (RuntimeException e) {
        // The row stays; the job is finished or the reaper re-queues it, which removes the row.
        LOG.warnf("job %s: could not release the lease: %s", lease.jobId(), e.getMessage());
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
