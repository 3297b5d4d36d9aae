package dev.fleet.worker;

import static org.awaitility.Awaitility.await;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * What the gateway does for a worker test: jobs written to the real job store and their messages
 * sent to the real topic of one memory class and the worker's model ({@link MemoryClass#topic}, the
 * topic the worker's channel consumes), and waiting for the state a job reaches.
 */
final class JobQueue implements AutoCloseable {
  final JobStore store;
  private final MemoryClass memoryClass;
  private final String topic;
  private final KafkaProducer<String, String> producer;

  JobQueue(DataSource dataSource, String bootstrapServers, MemoryClass memoryClass) {
    this.store = new JobStore(dataSource);
    this.memoryClass = memoryClass;
    this.topic =
        memoryClass.topic(
            ConfigProvider.getConfig().getValue("fleet.worker.model-name", String.class));
    this.producer =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", bootstrapServers, "acks", "all"),
            new StringSerializer(),
            new StringSerializer());
  }

  /**
   * Inserts a job for tenant t1 and sends its first attempt where the gateway's outbox would: the
   * topic of its class and its model, which is the worker's only if the worker serves that model.
   */
  JobMessage submit(GenerationSpec spec) {
    return submit(spec, memoryClass.topic(spec.model()));
  }

  /** As {@link #submit}, but to the worker's own topic whatever the model: a misrouted message. */
  JobMessage submitToWorker(GenerationSpec spec) {
    return submit(spec, topic);
  }

  private JobMessage submit(GenerationSpec spec, String to) {
    UUID id = UUID.randomUUID();
    store.insert(new NewJob(id, "t1", null, null, spec, memoryClass, 1L << 30));
    JobMessage message = JobMessage.of(id, "t1", spec, memoryClass, 1);
    send(to, id, message.toJson());
    return message;
  }

  /** Sends any record value (a duplicate, a malformed message) keyed by a job id to the worker. */
  void send(UUID key, String value) {
    send(topic, key, value);
  }

  private void send(String to, UUID key, String value) {
    try {
      producer.send(new ProducerRecord<>(to, key.toString(), value)).get();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  Job awaitState(UUID id, JobState state) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> store.find(id).orElseThrow().state() == state);
    return store.find(id).orElseThrow();
  }

  @Override
  public void close() {
    producer.close();
  }
}
