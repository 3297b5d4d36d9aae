package dev.fleet.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.auth.ApiKeyStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A packaged worker stopped with SIGTERM while it runs a job: its drain is tied to the Kafka
 * connector's shutdown. Within the drain deadline (1 s here) the job is handed back — QUEUED again
 * at the same attempt, its message in the outbox — the connector commits the record's offset as it
 * closes, and the process exits; the other worker then runs the job to SUCCEEDED, still at attempt
 * 1. The offset is read before the group could give the partition to the other worker (static
 * membership, a 6 s session), so only the stopped worker can have committed it.
 *
 * <p>{@code ./mvnw -o -pl api-gateway -am verify -Dit.test=WorkerSigtermIT -Dtest=none
 * -Dsurefire.failIfNoSpecifiedTests=false}
 */
class WorkerSigtermIT {
  static final String GROUP = "fleet-workers-" + FaultFleet.TOPIC;
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void aStoppedWorkerHandsItsJobBackCommitsItsRecordAndExits() throws Exception {
    Path module =
        Path.of(System.getProperty("fleet.it.basedir", System.getProperty("user.dir")))
            .toAbsolutePath()
            .normalize();
    Path data = module.resolve("target/worker-sigterm/" + System.currentTimeMillis());
    Files.createDirectories(data);
    try (FaultFleet fleet =
        new FaultFleet(module.getParent(), data, List.of("-Dfleet.worker.drain-timeout=1s"))) {
      fleet.start();
      PGSimpleDataSource ds = new PGSimpleDataSource();
      ds.setURL(fleet.jdbcUrl());
      ds.setUser("fleet");
      ds.setPassword("fleet");
      String key = new ApiKeyStore(ds).create("sigterm", false, "sigterm").secret();
      UUID job = submit(fleet.gateway(), key);

      String running = awaitRunning(fleet, job);
      String other = running.equals("worker-1") ? "worker-2" : "worker-1";
      ConsumerRecord<String, String> record = firstRecord(fleet, job);
      assertEquals(
          Set.of("fault-worker-1", "fault-worker-2"),
          staticMembers(fleet),
          "kafka.group.instance.id reaches the connector's consumers");

      assertTrue(
          fleet.terminate(running, Duration.ofSeconds(45)),
          "the worker exits within its drain deadline and margin" + fleet.logTails());
      long committed = committedOffset(fleet, record.partition());
      assertTrue(
          committed > record.offset(),
          "offset %d of partition %d committed on close, got %d"
              .formatted(record.offset(), record.partition(), committed));
      String log = fleet.log(running);
      assertTrue(
          log.contains("job " + job + " attempt 1: worker draining; handing it back"),
          "the job was handed back" + fleet.logTails());

      try (Connection c = DriverManager.getConnection(fleet.jdbcUrl(), "fleet", "fleet")) {
        long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (!"SUCCEEDED".equals(column(c, job, "state")) && System.nanoTime() < deadline) {
          Thread.sleep(250);
        }
        assertEquals("SUCCEEDED", column(c, job, "state"), fleet.logTails());
        assertEquals("1", column(c, job, "attempts"), "the hand-back spent no attempt");
        assertEquals(other, column(c, job, "worker"));
      }
    }
  }

  /** A job long enough to be running when its worker is told to stop. */
  private static UUID submit(URI gateway, String key) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(gateway.resolve("/v1/jobs"))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\":\"stop me\",\"seed\":3,\"steps\":50,\"width\":512,\"height\":512}"))
            .build();
    HttpResponse<String> r =
        HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    assertEquals(202, r.statusCode(), r.body());
    return UUID.fromString(JSON.readTree(r.body()).get("id").asText());
  }

  /** The worker running the job once it has done a step. */
  private static String awaitRunning(FaultFleet fleet, UUID job) throws Exception {
    try (Connection c = DriverManager.getConnection(fleet.jdbcUrl(), "fleet", "fleet")) {
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (System.nanoTime() < deadline) {
        String worker = column(c, job, "worker");
        String step = column(c, job, "progress_step");
        if ("RUNNING".equals(column(c, job, "state"))
            && worker != null
            && Integer.parseInt(step) >= 1) {
          return worker;
        }
        Thread.sleep(100);
      }
    }
    throw new AssertionError("job " + job + " not seen running" + fleet.logTails());
  }

  private static String column(Connection c, UUID job, String column) throws Exception {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT " + column + " FROM jobs WHERE id = ?")) {
      ps.setObject(1, job);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  /** The job's first record on the topic: the one the worker took. */
  private static ConsumerRecord<String, String> firstRecord(FaultFleet fleet, UUID job) {
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(
            Map.of("bootstrap.servers", fleet.kafkaBootstrap()),
            new StringDeserializer(),
            new StringDeserializer())) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(FaultFleet.TOPIC).stream()
              .map(p -> new TopicPartition(p.topic(), p.partition()))
              .toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          if (job.toString().equals(r.key())) {
            return r;
          }
        }
      }
    }
    throw new AssertionError("no record of job " + job + " on " + FaultFleet.TOPIC);
  }

  /** The group instance ids of the group's members. */
  private static Set<String> staticMembers(FaultFleet fleet) throws Exception {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", fleet.kafkaBootstrap()))) {
      return admin.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP).members().stream()
          .map(m -> m.groupInstanceId().orElse("(dynamic)"))
          .collect(Collectors.toSet());
    }
  }

  private static long committedOffset(FaultFleet fleet, int partition) throws Exception {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", fleet.kafkaBootstrap()))) {
      OffsetAndMetadata offset =
          admin
              .listConsumerGroupOffsets(GROUP)
              .partitionsToOffsetAndMetadata()
              .get()
              .get(new TopicPartition(FaultFleet.TOPIC, partition));
      return offset == null ? -1 : offset.offset();
    }
  }
}
