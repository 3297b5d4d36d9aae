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
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Runs one delivered job from RUNNING to a terminal state: the only place that decides what a
 * worker writes to the job store. Every write goes through the store's guarded transitions, so a
 * redelivered or stale message cannot finish a job twice.
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
  private final ImageSink sink;
  private final Generator generator;
  private final Admission admission;
  private final String workerId;
  private final String modelName;
  private final Duration timeout;
  private final Duration progressInterval;
  private final BooleanSupplier stopping;
  private final Clock clock;

  public JobRunner(
      JobStore store,
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
    SHUTDOWN
  }

  public Outcome run(JobMessage message) {
    if (!store.markRunning(message.jobId(), workerId, message.attempt())) {
      LOG.infof(
          "job %s attempt %d: nothing to do (finished, cancelled or superseded)",
          message.jobId(), message.attempt());
      return Outcome.SKIPPED;
    }
    GenerationSpec spec;
    try {
      spec = message.spec();
    } catch (InvalidSpecException e) {
      return fail(message, "INVALID_SPEC", e.getMessage());
    }
    if (!spec.model().equals(modelName)) {
      return fail(
          message,
          "MODEL_UNAVAILABLE",
          "this worker serves '" + modelName + "', not '" + spec.model() + "'");
    }
    Optional<String> refusal;
    try {
      refusal = admission.refusal(spec);
    } catch (UnsupportedLoraException e) {
      return fail(message, LORA_UNAVAILABLE, e.getMessage());
    } catch (IllegalArgumentException e) {
      return fail(message, "INVALID_SPEC", e.getMessage());
    }
    if (refusal.isPresent()) {
      return fail(message, "DOES_NOT_FIT", refusal.get());
    }
    Progress progress = new Progress(message, Instant.now(clock));
    GeneratedImage image;
    try {
      image = generator.generate(spec, progress);
    } catch (GenerationCancelledException e) {
      return switch (progress.stop) {
        case TIMED_OUT -> timedOut(message);
        case SHUTDOWN -> handBack(message);
        default -> cancelled(message);
      };
    } catch (UnsupportedLoraException e) {
      // The file vanished or changed since admission: no other attempt would fare better.
      return fail(message, LORA_UNAVAILABLE, e.getMessage());
    } catch (GenerationOutOfMemoryException e) {
      // Another worker, or this one once its caches have settled, may well run it.
      return requeue(message, "OUT_OF_MEMORY: " + e.getMessage());
    } catch (RuntimeException | OutOfMemoryError e) {
      return requeue(message, "ENGINE_ERROR: " + e);
    }
    try {
      sink.put(message.resultKey(), image.png());
    } catch (Exception e) {
      return requeue(message, "UPLOAD_FAILED: " + e);
    }
    if (store.succeed(message.jobId(), message.resultKey(), image.png().length)) {
      return Outcome.SUCCEEDED;
    }
    // Cancelled or timed out between the last step and now: the stored state stands.
    return Outcome.SKIPPED;
  }

  private Outcome fail(JobMessage m, String code, String reason) {
    LOG.warnf("job %s failed: %s %s", m.jobId(), code, reason);
    store.fail(m.jobId(), code, reason);
    return Outcome.FAILED;
  }

  private Outcome cancelled(JobMessage m) {
    store.cancel(m.jobId());
    return Outcome.CANCELLED;
  }

  private Outcome timedOut(JobMessage m) {
    store.timeOut(m.jobId(), "ran longer than " + timeout);
    return Outcome.TIMED_OUT;
  }

  /** The worker is draining and the job did not finish in time: back to the queue, same attempt. */
  private Outcome handBack(JobMessage m) {
    LOG.infof("job %s attempt %d: worker draining; handing it back", m.jobId(), m.attempt());
    return switch (store.handBack(m.jobId(), m.attempt())) {
      case REQUEUED -> Outcome.HANDED_BACK;
      case CANCELLED -> Outcome.CANCELLED;
      default -> Outcome.SKIPPED;
    };
  }

  private Outcome requeue(JobMessage m, String reason) {
    LOG.warnf("job %s attempt %d: %s; re-queueing", m.jobId(), m.attempt(), reason);
    store.requeue(m.jobId(), m.attempt(), reason);
    return Outcome.REQUEUED;
  }

  /** Throttled progress writes and the checks made at every step boundary. */
  private final class Progress implements GenerationListener {
    private final JobMessage message;
    private final Instant deadline;
    private Instant lastWrite = Instant.EPOCH;
    private Stop stop = Stop.NONE;

    Progress(JobMessage message, Instant start) {
      this.message = message;
      this.deadline = start.plus(timeout);
    }

    @Override
    public void onStep(int step, int steps) {
      Instant now = Instant.now(clock);
      if (step == steps || Duration.between(lastWrite, now).compareTo(progressInterval) >= 0) {
        store.progress(message.jobId(), step, steps);
        lastWrite = now;
      }
    }

    @Override
    public boolean cancelled() {
      if (stopping.getAsBoolean()) {
        stop = Stop.SHUTDOWN;
      } else if (Instant.now(clock).isAfter(deadline)) {
        stop = Stop.TIMED_OUT;
      } else if (store.cancelRequested(message.jobId())) {
        stop = Stop.CANCELLED;
      }
      return stop != Stop.NONE;
    }
  }
}
