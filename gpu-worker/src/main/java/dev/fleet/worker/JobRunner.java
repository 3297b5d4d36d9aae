package dev.fleet.worker;

import dev.fleet.engine.lora.UnsupportedLoraException;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationCancelledException;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationOutOfMemoryException;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.InvalidSpecException;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStoreException;
import dev.fleet.model.store.Lease;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Runs one delivered job from RUNNING to a terminal state: the only place that decides what a
 * worker writes to the job store. Every write goes through the store's guarded transitions, so a
 * redelivered or stale message cannot finish a job twice.
 *
 * <p>The run holds the job's lease ({@link JobStore#start}) and heartbeats it ({@link LeaseKeeper})
 * until it ends. Its image goes to an object of its own ({@link Lease#resultKey}); when the job
 * turns out to be no longer this run's — the reaper re-queued it while this worker was silent, and
 * another run finished it — the success is refused, the object removed and the result discarded:
 * one SUCCEEDED state and one image per job, however many workers ran it. Writes that cannot be
 * skipped are retried while the database or S3 is away ({@link Retry}); a run that still cannot
 * store its outcome throws and leaves the job RUNNING with its lease row for the gateway's reaper,
 * and one that cannot even take its job ends {@link Outcome#NOT_TAKEN}, having changed nothing.
 */
public final class JobRunner {
  private static final Logger LOG = Logger.getLogger(JobRunner.class);

  /** The error code of a job whose LoRA is missing, unreadable or does not fit the model. */
  public static final String LORA_UNAVAILABLE = "LORA_UNAVAILABLE";

  /**
   * The engine as the runner sees it.
   *
   * <p>A {@link GenerationOutOfMemoryException} says the job ran out of device memory under the
   * worker's plan and again under a leaner one: the job goes back to the queue.
   */
  @FunctionalInterface
  public interface Generator {
    GeneratedImage generate(GenerationSpec spec, GenerationListener listener);
  }

  /** Whether this worker can take a job on at all, e.g. within its device-memory budget. */
  @FunctionalInterface
  public interface Admission {
    /**
     * Empty to run the job; otherwise why it cannot run here, with the numbers.
     *
     * @throws IllegalArgumentException when the job's image does not suit the model
     */
    Optional<String> refusal(GenerationSpec spec);
  }

  private final JobStore store;
  private final LeaseKeeper leases;
  private final Retry retry;
  private final ImageSink sink;
  private final Generator generator;
  private final Admission admission;
  private final String workerId;
  private final String modelName;
  private final Duration timeout;
  private final Duration progressInterval;
  private final BooleanSupplier stopping;
  private final Clock clock;

  /**
   * @param patience how long a write that cannot be skipped is retried while the database or S3 is
   *     away
   */
  public JobRunner(
      JobStore store,
      LeaseKeeper leases,
      Duration patience,
      ImageSink sink,
      Generator generator,
      Admission admission,
      String workerId,
      String modelName,
      Duration timeout,
      Duration progressInterval,
      BooleanSupplier stopping,
      Clock clock) {
    this.store = store;
    this.leases = leases;
    this.retry = new Retry(patience);
    this.sink = sink;
    this.generator = generator;
    this.admission = admission;
    this.workerId = workerId;
    this.modelName = modelName;
    this.timeout = timeout;
    this.progressInterval = progressInterval;
    this.stopping = stopping;
    this.clock = clock;
  }

  /** Why a running job stops early. */
  private enum Stop {
    NONE,
    CANCELLED,
    TIMED_OUT,
    SHUTDOWN,
    LEASE_LOST
  }

  public Outcome run(JobMessage message) {
    UUID id = message.jobId();
    Optional<Lease> lease;
    try {
      lease = retry.store("take job " + id, () -> store.start(id, workerId, message.attempt()));
    } catch (JobStoreException e) {
      LOG.warnf("job %s attempt %d: not taken: %s", id, message.attempt(), e.getMessage());
      return Outcome.NOT_TAKEN;
    }
    if (lease.isEmpty()) {
      LOG.infof(
          "job %s attempt %d: nothing to do (finished, cancelled or superseded)",
          id, message.attempt());
      return Outcome.SKIPPED;
    }
    LeaseKeeper.Hold hold = leases.hold(lease.get());
    Outcome outcome;
    try {
      outcome = run(message, hold);
    } catch (RuntimeException | Error e) {
      // The store stayed away (or the run broke) before the job's state was stored: the lease row
      // stays, unheartbeaten, so that the reaper re-queues the job once it expires.
      hold.abandon();
      throw e;
    }
    hold.close();
    return outcome;
  }

  private Outcome run(JobMessage message, LeaseKeeper.Hold hold) {
    Lease lease = hold.lease();
    GenerationSpec spec;
    try {
      spec = message.spec();
    } catch (InvalidSpecException e) {
      return fail(lease, "INVALID_SPEC", e.getMessage());
    }
    if (!spec.model().equals(modelName)) {
      return fail(
          lease,
          "MODEL_UNAVAILABLE",
          "this worker serves '" + modelName + "', not '" + spec.model() + "'");
    }
    Optional<String> refusal;
    try {
      refusal = admission.refusal(spec);
    } catch (UnsupportedLoraException e) {
      return fail(lease, LORA_UNAVAILABLE, e.getMessage());
    } catch (IllegalArgumentException e) {
      return fail(lease, "INVALID_SPEC", e.getMessage());
    }
    if (refusal.isPresent()) {
      return fail(lease, "DOES_NOT_FIT", refusal.get());
    }
    Progress progress = new Progress(message, hold, Instant.now(clock));
    GeneratedImage image;
    try {
      image = generator.generate(spec, progress);
    } catch (GenerationCancelledException e) {
      return switch (progress.stop) {
        case TIMED_OUT -> timedOut(message);
        case SHUTDOWN -> handBack(message);
        case LEASE_LOST -> {
          LOG.infof(
              "job %s attempt %d: stopped, its lease went to another run or the reaper",
              lease.jobId(), lease.attempt());
          yield Outcome.DISCARDED;
        }
        default -> cancelled(message);
      };
    } catch (UnsupportedLoraException e) {
      // The file vanished or changed since admission: no other attempt would fare better.
      return fail(lease, LORA_UNAVAILABLE, e.getMessage());
    } catch (GenerationOutOfMemoryException e) {
      // Another worker, or this one once its caches have settled, may well run it.
      return requeue(message, "OUT_OF_MEMORY: " + e.getMessage());
    } catch (RuntimeException | OutOfMemoryError e) {
      return requeue(message, "ENGINE_ERROR: " + e);
    }
    if (hold.lost()) {
      LOG.infof("job %s attempt %d: lease lost; result discarded", lease.jobId(), lease.attempt());
      return Outcome.DISCARDED;
    }
    String key = lease.resultKey(message.tenant());
    byte[] png = image.png();
    try {
      retry.call(
          "upload " + key,
          () -> {
            sink.put(key, png);
            return null;
          });
    } catch (Exception e) {
      remove(key); // in case the store kept it and only its answer was lost
      return requeue(message, "UPLOAD_FAILED: " + e);
    }
    boolean won =
        retry.store(
            "store the result of " + lease.jobId(),
            () -> store.succeed(lease, key, png.length) || isResult(lease.jobId(), key));
    if (won) {
      return Outcome.SUCCEEDED;
    }
    // Cancelled, timed out or re-queued since this run took the job: the stored state stands.
    LOG.infof(
        "job %s attempt %d: no longer this run's; its image %s is removed",
        lease.jobId(), lease.attempt(), key);
    remove(key);
    return Outcome.DISCARDED;
  }

  /** Whether the job's stored result is {@code key}: an earlier try of this success applied. */
  private boolean isResult(UUID id, String key) {
    return store.find(id).map(j -> key.equals(j.resultKey())).orElse(false);
  }

  /** Removes a result that is not the job's; an object left behind is logged for cleanup. */
  private void remove(String key) {
    try {
      retry.call(
          "remove " + key,
          () -> {
            sink.delete(key);
            return null;
          });
    } catch (Exception e) {
      LOG.errorf("could not remove the discarded result %s: %s", key, e.toString());
    }
  }

  private Outcome fail(Lease lease, String code, String reason) {
    LOG.warnf("job %s failed: %s %s", lease.jobId(), code, reason);
    boolean failed = retry.store("fail " + lease.jobId(), () -> store.fail(lease, code, reason));
    return failed ? Outcome.FAILED : Outcome.DISCARDED;
  }

  private Outcome cancelled(JobMessage m) {
    retry.store("cancel " + m.jobId(), () -> store.cancel(m.jobId()));
    return Outcome.CANCELLED;
  }

  private Outcome timedOut(JobMessage m) {
    retry.store(
        "time out " + m.jobId(), () -> store.timeOut(m.jobId(), "ran longer than " + timeout));
    return Outcome.TIMED_OUT;
  }

  /** The worker is draining and the job did not finish in time: back to the queue, same attempt. */
  private Outcome handBack(JobMessage m) {
    LOG.infof("job %s attempt %d: worker draining; handing it back", m.jobId(), m.attempt());
    return switch (retry.store(
        "hand back " + m.jobId(), () -> store.handBack(m.jobId(), m.attempt()))) {
      case REQUEUED -> Outcome.HANDED_BACK;
      case CANCELLED -> Outcome.CANCELLED;
      default -> Outcome.SKIPPED;
    };
  }

  private Outcome requeue(JobMessage m, String reason) {
    LOG.warnf("job %s attempt %d: %s; re-queueing", m.jobId(), m.attempt(), reason);
    retry.store("requeue " + m.jobId(), () -> store.requeue(m.jobId(), m.attempt(), reason));
    return Outcome.REQUEUED;
  }

  /** Throttled progress writes and the checks made at every step boundary. */
  private final class Progress implements GenerationListener {
    private final JobMessage message;
    private final LeaseKeeper.Hold hold;
    private final Instant deadline;
    private Instant lastWrite = Instant.EPOCH;
    private Stop stop = Stop.NONE;

    Progress(JobMessage message, LeaseKeeper.Hold hold, Instant start) {
      this.message = message;
      this.hold = hold;
      this.deadline = start.plus(timeout);
    }

    @Override
    public void onStep(int step, int steps) {
      Instant now = Instant.now(clock);
      if (step == steps || Duration.between(lastWrite, now).compareTo(progressInterval) >= 0) {
        try {
          store.progress(message.jobId(), step, steps);
          lastWrite = now;
        } catch (JobStoreException e) {
          // Progress is news, not state: the job goes on while the database is away.
          LOG.debugf("job %s: progress not stored: %s", message.jobId(), e.getMessage());
        }
      }
    }

    @Override
    public boolean cancelled() {
      if (hold.lost()) {
        stop = Stop.LEASE_LOST;
      } else if (stopping.getAsBoolean()) {
        stop = Stop.SHUTDOWN;
      } else if (Instant.now(clock).isAfter(deadline)) {
        stop = Stop.TIMED_OUT;
      } else if (cancelRequested()) {
        stop = Stop.CANCELLED;
      }
      return stop != Stop.NONE;
    }

    private boolean cancelRequested() {
      try {
        return store.cancelRequested(message.jobId());
      } catch (JobStoreException e) {
        return false; // asked again at the next step
      }
    }
  }
}
