package dev.fleet.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads a topic from the beginning, as a worker would, looking for one job's message. */
final class KafkaRecords {
  private KafkaRecords() {}

  static Optional<ConsumerRecord<String, String>> find(
      String bootstrap, String topic, UUID jobId, Duration within) {
    return all(bootstrap, topic, jobId, 1, within).stream().findFirst();
  }

  /** The job's records in the topic, once there are at least {@code atLeast} (or time is up). */
  static List<ConsumerRecord<String, String>> all(
      String bootstrap, String topic, UUID jobId, int atLeast, Duration within) {
    List<ConsumerRecord<String, String>> found = new ArrayList<>();
    Map<String, Object> config =
        Map.of(
            ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
            bootstrap,
            ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
            StringDeserializer.class.getName(),
            ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
            StringDeserializer.class.getName(),
            ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
            false);
    long deadline = System.nanoTime() + within.toNanos();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config)) {
      List<TopicPartition> partitions = List.of();
      while (partitions.isEmpty() && System.nanoTime() < deadline) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
        partitions =
            infos == null
                ? List.of()
                : infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          if (jobId.toString().equals(r.key())) {
            found.add(r);
          }
        }
        if (found.size() >= atLeast) {
          break;
        }
      }
    }
    return found;
  }
}
