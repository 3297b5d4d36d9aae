package dev.fleet.stack;

import io.minio.GetObjectArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Plain clients of the three services, as the fleet's applications would use them. */
final class StackClients {
  private StackClients() {}

  static Connection jdbc(StackEndpoints e) throws SQLException {
    return DriverManager.getConnection(e.jdbcUrl(), e.jdbcUser(), e.jdbcPassword());
  }

  static MinioClient minio(StackEndpoints e) {
    return MinioClient.builder()
        .endpoint(e.s3Endpoint())
        .credentials(e.s3AccessKey(), e.s3SecretKey())
        // A fixed region spares the client a GetBucketLocation round trip.
        .region("us-east-1")
        .build();
  }

  static void putObject(StackEndpoints e, String key, byte[] bytes, String contentType)
      throws Exception {
    minio(e)
        .putObject(
            PutObjectArgs.builder().bucket(e.s3Bucket()).object(key).stream(
                    new ByteArrayInputStream(bytes), bytes.length, -1)
                .contentType(contentType)
                .build());
  }

  static byte[] getObject(StackEndpoints e, String key) throws Exception {
    try (InputStream in =
        minio(e).getObject(GetObjectArgs.builder().bucket(e.s3Bucket()).object(key).build())) {
      return in.readAllBytes();
    }
  }

  static void produce(StackEndpoints e, String topic, String key, String value) throws Exception {
    Map<String, Object> config =
        Map.of(
            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
            e.kafkaBootstrapServers(),
            ProducerConfig.ACKS_CONFIG,
            "all",
            ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG,
            StringSerializer.class,
            ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
            StringSerializer.class);
    try (var producer = new KafkaProducer<String, String>(config)) {
      producer.send(new ProducerRecord<>(topic, key, value)).get();
    }
  }

  /** Reads {@code topic} from the beginning until {@code count} records arrived or time is up. */
  static List<ConsumerRecord<String, String>> consume(
      StackEndpoints e, String topic, int count, Duration timeout) {
    Map<String, Object> config =
        Map.of(
            ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
            e.kafkaBootstrapServers(),
            ConsumerConfig.GROUP_ID_CONFIG,
            "test-" + UUID.randomUUID(),
            ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
            "earliest",
            ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
            StringDeserializer.class,
            ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
            StringDeserializer.class);
    List<ConsumerRecord<String, String>> records = new ArrayList<>();
    try (var consumer = new KafkaConsumer<String, String>(config)) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (records.size() < count && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(records::add);
      }
    }
    return records;
  }
}
