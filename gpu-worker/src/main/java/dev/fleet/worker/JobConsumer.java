package dev.fleet.worker;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.store.JobStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Takes jobs of this worker's memory class from Kafka, one at a time. The job runs on its own
 * thread while this loop keeps polling with every partition paused, so a job of many minutes never
 * exceeds {@code max.poll.interval.ms} nor triggers a rebalance; the offset is committed only after
 * the job's terminal state is stored. A worker that dies mid-job leaves the offset uncommitted and
 * the job RUNNING: Kafka redelivers it, and the store lets the same attempt start over; should the
 * worker stay away, its lease stops being heartbeaten and the gateway's reaper re-queues the job as
 * its next attempt ({@link LeaseKeeper}, {@code JobStore.requeueExpired}).
 */
@ApplicationScoped
public class JobConsumer {
  private static final Logger LOG = Logger.getLogger(JobConsumer.class);
  private static final Duration POLL = Duration.ofMillis(200);
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  @Inject WorkerConfig config;
  @Inject ModelRuntime model;
  @Inject ImageSink sink;
  @Inject DataSource dataSource;
  @Inject MeterRegistry metrics;

  @Inject
  @Identifier("default-kafka-broker")
  Map<String, Object> kafkaConfig;

  /**
   * Attempts a job gets before a re-queue fails it: the fleet-wide {@code fleet.jobs.max-attempts}
   * (the gateway's reaper applies the same one).
   */
  @ConfigProperty(name = "fleet.jobs.max-attempts", defaultValue = "3")
  int maxAttempts;

  /** Set when the drain begins: readiness is DOWN and no new job is taken. */
  private final AtomicBoolean draining = new AtomicBoolean();

  /** Set when the drain deadline has passed: the running job stops at its next step. */
  private final AtomicBoolean stopping = new AtomicBoolean();

  private final ExecutorService jobThread =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "fleet-job"));
  private volatile boolean busy;
  private Thread loop;
  private KafkaConsumer<String, String> consumer;
  private JobStore store;
  private LeaseKeeper leases;
  private JobRunner runner;

  void start(@Observes StartupEvent event) {
    if (!config.consume()) {
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
    consumer =
        new KafkaConsumer<>(
            consumerProperties(), new StringDeserializer(), new StringDeserializer());
    loop = new Thread(this::pollLoop, "fleet-consumer");
    loop.start();
    LOG.infof("worker %s consuming topic %s", workerId, config.memoryClass());
  }

  private Map<String, Object> consumerProperties() {
    Map<String, Object> p = new HashMap<>();
    p.put(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
        kafkaConfig.getOrDefault("bootstrap.servers", "localhost:9092"));
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "fleet-workers-" + config.memoryClass());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
    // Static membership when configured (kafka.group.instance.id): a worker restarted under the
    // same id gets its partitions back at once, without waiting for the dead member's session to
    // time out, and so the job it was running is delivered again within seconds.
    for (String key :
        List.of(
            ConsumerConfig.GROUP_INSTANCE_ID_CONFIG,
            ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
            ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG)) {
      Object value = kafkaConfig.get(key);
      if (value != null && !value.toString().isBlank()) {
        p.put(key, value.toString());
      }
    }
    return p;
  }

  boolean running() {
    return loop != null && loop.isAlive();
  }

  /** Whether the worker is draining (shutting down): its readiness is DOWN from then on. */
  boolean draining() {
    return draining.get();
  }

  private void pollLoop() {
    try {
      consumer.subscribe(List.of(config.memoryClass()), new PauseWhileBusy());
      while (!draining.get()) {
        for (ConsumerRecord<String, String> record : consumer.poll(POLL)) {
          if (draining.get()) {
            // Not taken and not committed: the group gives it to another worker.
            break;
          }
          handle(record);
        }
      }
    } catch (WakeupException e) {
      // stop() woke the poll up
    } catch (RuntimeException e) {
      LOG.error("consumer loop stopped", e);
    } finally {
      consumer.close(Duration.ofSeconds(5));
    }
  }

  /** Runs one record's job off the poll thread and commits its offset once the job has ended. */
  private void handle(ConsumerRecord<String, String> record) {
    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
    JobMessage message;
    try {
      message = JSON.readValue(record.value(), JobMessage.class);
    } catch (Exception e) {
      rejectUnreadable(record, e);
      commit(tp, record.offset());
      return;
    }
    busy = true;
    consumer.pause(consumer.assignment());
    long start = System.nanoTime();
    Future<Outcome> job = jobThread.submit(() -> runner.run(message));
    Outcome outcome;
    try {
      while (!job.isDone()) {
        // Paused: returns nothing, but keeps this member of the group alive.
        consumer.poll(POLL);
      }
      outcome = job.get();
    } catch (Exception e) {
      LOG.errorf(e, "job %s: runner failed", message.jobId());
      outcome = Outcome.ABANDONED;
    } finally {
      busy = false;
    }
    metrics
        .timer("fleet.worker.jobs", "outcome", outcome.name(), "class", config.memoryClass())
        .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    if (outcome != Outcome.ABANDONED) {
      commit(tp, record.offset());
    } else {
      redeliver(tp, record.offset());
    }
    consumer.resume(consumer.paused());
  }

  /** A record that is no job message: fail its job if it names one, and move past it. */
  private void rejectUnreadable(ConsumerRecord<String, String> record, Exception e) {
    LOG.warnf(
        "unreadable message at %s-%d@%d: %s",
        record.topic(), record.partition(), record.offset(), e.getMessage());
    try {
      JsonNode id = JSON.readTree(record.value()).get("jobId");
      if (id != null) {
        store.fail(
            UUID.fromString(id.asText()),
            "BAD_MESSAGE",
            "the job's message could not be read: " + e.getMessage());
      }
    } catch (Exception ignored) {
      // not even JSON with an id: nothing to mark
    }
  }

  /**
   * The runner broke (the job store stayed away past the retry patience): the record is read again
   * from its offset. Its lease, no longer heartbeaten, also expires, and the reaper re-queues it.
   */
  private void redeliver(TopicPartition tp, long offset) {
    try {
      consumer.seek(tp, offset);
    } catch (IllegalStateException e) {
      // The partition moved to another worker mid-job: it reads on from the committed offset.
      LOG.warnf("could not rewind %s to %d: %s", tp, offset, e.getMessage());
    }
  }

  private void commit(TopicPartition tp, long offset) {
    try {
      consumer.commitSync(Map.of(tp, new OffsetAndMetadata(offset + 1)));
    } catch (RuntimeException e) {
      // The partition moved to another worker mid-job; it will see the job finished and skip it.
      LOG.warnf("could not commit %s@%d: %s", tp, offset, e.getMessage());
    }
  }

  /** Partitions assigned while a job runs must stay paused until it ends. */
  private final class PauseWhileBusy implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (busy) {
        consumer.pause(partitions);
      }
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}
  }

  void stop(@Observes ShutdownEvent event) {
    drain(config.drainTimeout());
  }

  /**
   * Graceful drain (SIGTERM): readiness goes DOWN at once and no new job is taken; the running job
   * may finish within {@code deadline}, after which it stops at its next step and is handed back to
   * the queue with the same attempt ({@link JobStore#handBack}). Either way its offset is committed
   * (the job is finished, or its message is in the outbox again), then the consumer is closed.
   * Idempotent: a second call waits for nothing the first has not.
   */
  synchronized void drain(Duration deadline) {
    if (!draining.compareAndSet(false, true)) {
      return;
    }
    try {
      if (loop != null) {
        LOG.infof("draining: waiting up to %s for the running job", deadline);
        loop.join(Math.max(1, deadline.toMillis()));
        if (loop.isAlive()) {
          LOG.warnf("drain deadline %s passed: handing the running job back", deadline);
          stopping.set(true);
          // The job stops at its next step; then its hand-back, the commit and the close.
          loop.join(TimeUnit.SECONDS.toMillis(20));
        }
        if (loop.isAlive()) {
          consumer.wakeup();
          loop.join(TimeUnit.SECONDS.toMillis(5));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      stopping.set(true);
      jobThread.shutdownNow();
      if (leases != null) {
        leases.close();
      }
    }
  }

  /** The job store the consumer runs jobs against (null until it starts consuming). */
  JobStore store() {
    return store;
  }
}
