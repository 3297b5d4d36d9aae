package dev.fleet.worker;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.store.JobStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.reactive.messaging.ChannelRegistry;
import io.smallrye.reactive.messaging.PausableChannel;
import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Acknowledgment;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.jboss.logging.Logger;

/**
 * Takes jobs of this worker's memory class from Kafka through SmallRye Reactive Messaging's Kafka
 * connector (channel {@value #CHANNEL}, configured in {@code application.properties}), one at a
 * time: the method is {@link Blocking} and ordered, so the connector hands it the next record only
 * once the previous one has returned, and with {@code pause-if-no-requests} it keeps polling with
 * its partitions paused meanwhile — a job of many minutes neither exceeds {@code
 * max.poll.interval.ms} nor triggers a rebalance.
 *
 * <p>A record is acknowledged only after its job's terminal state (or its re-queue or hand-back,
 * whose next message is in the outbox) is stored; the {@code throttled} commit strategy commits the
 * offset after the latest record acknowledged in sequence. A worker that dies mid-job leaves the
 * offset uncommitted and the job RUNNING: Kafka redelivers it, and the store lets the same attempt
 * start over; should the worker stay away, its lease stops being heartbeaten and the gateway's
 * reaper re-queues the job as its next attempt ({@link LeaseKeeper}, {@code
 * JobStore.requeueExpired}).
 *
 * <p>The connector cannot rewind to a record, so a run that broke after taking its job ({@link
 * Outcome#ABANDONED}: the job store stayed away past the retry patience) is acknowledged and left
 * to the reaper, its lease row kept for it. A record whose job could not even be taken ({@link
 * Outcome#NOT_TAKEN}) is tried again until the store answers, since no other record could be run
 * meanwhile either. A record that is no job message fails its job ({@code BAD_MESSAGE}) when it
 * names one and is nacked: the connector's {@code dead-letter-queue} failure strategy copies it to
 * {@link JobStore#DEAD_LETTER_TOPIC} with the reason in its headers before its offset moves on.
 */
@ApplicationScoped
public class JobConsumer {
  /** The connector's channel of job records. */
  static final String CHANNEL = "jobs";

  /**
   * The worker pool that runs {@link #consume}: one thread ({@code
   * smallrye.messaging.worker.fleet-job.max-concurrency=1}), since a worker runs one job at a time.
   */
  static final String JOB_POOL = "fleet-job";

  private static final Logger LOG = Logger.getLogger(JobConsumer.class);
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  @Inject WorkerConfig config;
  @Inject ModelRuntime model;
  @Inject ImageSink sink;
  @Inject DataSource dataSource;
  @Inject MeterRegistry metrics;
  @Inject ChannelRegistry channels;

  /**
   * Attempts a job gets before a re-queue fails it: the fleet-wide {@code fleet.jobs.max-attempts}
   * (the gateway's reaper applies the same one).
   */
  @ConfigProperty(name = "fleet.jobs.max-attempts", defaultValue = "3")
  int maxAttempts;

  /** The channel's topic, {@code <memory class>.<model>} ({@code MemoryClass.topic}). */
  @ConfigProperty(name = "mp.messaging.incoming." + CHANNEL + ".topic")
  String topic;

  /** Set when the drain begins: readiness is DOWN and no new job is taken. */
  private final AtomicBoolean draining = new AtomicBoolean();

  /** Set when the drain deadline has passed: the running job stops at its next step. */
  private final AtomicBoolean stopping = new AtomicBoolean();

  /**
   * Held while a record is handled; the drain takes it to wait for the running job, and keeps it,
   * so that no record is handled after the drain.
   */
  private final Semaphore handling = new Semaphore(1);

  private volatile boolean started;
  private JobStore store;
  private LeaseKeeper leases;
  private JobRunner runner;

  /**
   * Builds the runner at startup. The messaging extension starts its channels in a {@link
   * StartupEvent} observer of an earlier priority, so a record may come first: {@link #consume}
   * then builds it (once, under the same lock).
   */
  void start(@Observes StartupEvent event) {
    init();
  }

  private synchronized void init() {
    if (started) {
      return;
    }
    store = new JobStore(dataSource, maxAttempts);
    String workerId = config.id().orElse(ManagementFactory.getRuntimeMXBean().getName());
    leases = new LeaseKeeper(store, config.heartbeatInterval());
    runner =
        new JobRunner(
            store,
            leases,
            config.retryPatience(),
            sink,
            model::generate,
            model::refusal,
            workerId,
            config.modelName(),
            config.jobTimeout(),
            config.progressInterval(),
            stopping::get,
            Clock.systemUTC());
    started = true;
    LOG.infof("worker %s consuming topic %s", workerId, topic);
  }

  /** Whether the worker takes jobs: started and not draining. */
  boolean running() {
    return started && !draining.get();
  }

  /** Whether the worker is draining (shutting down): its readiness is DOWN from then on. */
  boolean draining() {
    return draining.get();
  }

  /**
   * One record of the job topic, on a worker thread. Returns once the record is settled: acked,
   * nacked to the dead-letter topic, or — while the worker drains — left unacknowledged, so that
   * its offset stays uncommitted and the group gives it to another worker.
   */
  @Incoming(CHANNEL)
  @Blocking(JOB_POOL)
  @Acknowledgment(Acknowledgment.Strategy.MANUAL)
  public CompletionStage<Void> consume(Message<String> record) {
    if (!handling.tryAcquire()) {
      return leftForAnotherWorker(); // the drain holds it
    }
    try {
      if (draining.get()) {
        return leftForAnotherWorker();
      }
      init();
      return handle(record);
    } finally {
      handling.release();
    }
  }

  private static CompletionStage<Void> leftForAnotherWorker() {
    return CompletableFuture.completedFuture(null);
  }

  private CompletionStage<Void> handle(Message<String> record) {
    JobMessage message;
    try {
      message = JSON.readValue(record.getPayload(), JobMessage.class);
    } catch (Exception e) {
      return reject(record, e);
    }
    long start = System.nanoTime();
    Outcome outcome = run(message);
    if (outcome == Outcome.NOT_TAKEN) {
      // Draining before the store came back: nothing was taken, the record goes to another worker.
      return leftForAnotherWorker();
    }
    metrics
        .timer("fleet.worker.jobs", "outcome", outcome.name(), "class", config.memoryClass())
        .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    return record.ack();
  }

  /**
   * Runs the job; a job the runner could not take (the store is away) is tried again until taken or
   * until the worker drains.
   */
  private Outcome run(JobMessage message) {
    for (; ; ) {
      Outcome outcome;
      try {
        outcome = runner.run(message);
      } catch (RuntimeException e) {
        LOG.errorf(
            e,
            "job %s attempt %d: runner failed; left RUNNING for the lease reaper",
            message.jobId(),
            message.attempt());
        return Outcome.ABANDONED;
      }
      if (outcome != Outcome.NOT_TAKEN || draining.get()) {
        return outcome;
      }
      LOG.warnf("job %s: not taken, the job store is away; trying again", message.jobId());
    }
  }

  /**
   * A record that is no job message: its job fails ({@code BAD_MESSAGE}) if it names one, and the
   * record goes to the dead-letter topic. Should that topic not take it, the record is acked all
   * the same (its bytes are in the log): an unsettled record would hold back every later commit.
   */
  private CompletionStage<Void> reject(Message<String> record, Exception e) {
    LOG.warnf("unreadable job message: %s", e.getMessage());
    try {
      JsonNode id = JSON.readTree(record.getPayload()).get("jobId");
      if (id != null) {
        store.fail(
            UUID.fromString(id.asText()),
            "BAD_MESSAGE",
            "the job's message could not be read: " + e.getMessage());
      }
    } catch (Exception ignored) {
      // not even JSON with an id: nothing to mark
    }
    return record
        .nack(e)
        .handle(
            (ok, failure) -> {
              if (failure != null) {
                LOG.errorf(
                    "unreadable job message not dead-lettered (%s); skipped: %s",
                    failure, record.getPayload());
              }
              return null;
            })
        .thenCompose(v -> record.ack());
  }

  /**
   * Drains before the connector closes: Quarkus fires {@link ShutdownEvent} before it destroys the
   * application's beans, the Kafka connector among them, whose throttled commit handler then
   * commits every acknowledged record on close.
   */
  void stop(@Observes ShutdownEvent event) {
    drain(config.drainTimeout());
  }

  /**
   * Graceful drain (SIGTERM): readiness goes DOWN at once and no new job is taken; the running job
   * may finish within {@code deadline}, after which it stops at its next step and is handed back to
   * the queue with the same attempt ({@link JobStore#handBack}). Either way its record is
   * acknowledged (the job is finished, or its message is in the outbox again). The channel is
   * paused, so the connector delivers nothing more; the records it holds stay uncommitted and go to
   * another worker. Idempotent: a second call waits for nothing the first has not.
   */
  synchronized void drain(Duration deadline) {
    if (!draining.compareAndSet(false, true)) {
      return;
    }
    // The channel is pausable (pausable=true): from now on the connector hands over no record, and
    // with pause-if-no-requests it pauses its partitions. A record requested before this is
    // still delivered, and left unacknowledged by consume().
    PausableChannel channel = channels.getPausable(CHANNEL);
    if (channel != null) {
      channel.pause();
    }
    try {
      LOG.infof("draining: waiting up to %s for the running job", deadline);
      if (!handling.tryAcquire(Math.max(1, deadline.toMillis()), TimeUnit.MILLISECONDS)) {
        LOG.warnf("drain deadline %s passed: handing the running job back", deadline);
        stopping.set(true);
        // The job stops at its next step; then its hand-back and the record's acknowledgement.
        if (!handling.tryAcquire(20, TimeUnit.SECONDS)) {
          LOG.errorf("the running job did not stop; its lease expires and the reaper re-queues it");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      stopping.set(true);
      if (leases != null) {
        leases.close();
      }
    }
  }

  /** The job store the consumer runs jobs against (null until it starts). */
  JobStore store() {
    return store;
  }
}
