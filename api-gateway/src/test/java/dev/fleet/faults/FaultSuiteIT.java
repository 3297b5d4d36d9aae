package dev.fleet.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.auth.ApiKeyStore;
import io.minio.GetObjectArgs;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The fault suite: N jobs (200 by default, {@code -Dfleet.faults.jobs=N}) of the tiny model at tiny
 * sizes on two workers, through the real gateway, while the suite kills a worker with SIGKILL in
 * the middle of a job (and starts it again), injects poison messages on the job topic, makes S3
 * unavailable for a while, restarts the Kafka broker and restarts PostgreSQL.
 *
 * <p>At the end every acknowledged job (a 202 from the gateway; submissions are retried with their
 * Idempotency-Key while the gateway cannot answer) must be in a terminal state, and each SUCCEEDED
 * one must have exactly one object in the bucket, its result, a readable PNG; a job with any other
 * object, or a finished job that is not SUCCEEDED with one, counts as duplicated. The suite prints
 * {@code submitted N, succeeded S, failed F (reasons), lost 0, duplicated 0} and asserts the zeros.
 *
 * <p>Run by failsafe in {@code ./mvnw verify} (the runner jars of both applications must exist):
 * {@code ./mvnw -o -pl api-gateway -am verify -Dit.test=FaultSuiteIT -Dtest=none
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class FaultSuiteIT {
  static final int JOBS = Integer.getInteger("fleet.faults.jobs", 200);
  static final String TENANT = "faults";
  static final Duration SETTLE = Duration.ofMinutes(4);
  static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Map<Integer, UUID> acknowledged = new ConcurrentHashMap<>();
  private final List<String> events = new ArrayList<>();

  @Test
  @Timeout(value = 12, unit = java.util.concurrent.TimeUnit.MINUTES)
  void everyAcknowledgedJobEndsOnceWithOneImageThroughTheFaults() throws Exception {
    Path module =
        Path.of(System.getProperty("fleet.it.basedir", System.getProperty("user.dir")))
            .toAbsolutePath()
            .normalize();
    Path root = module.getParent();
    // Kept after the run: the children's logs are there (gateway.log, worker-1.log, worker-2.log).
    Path data = module.resolve("target/fault-suite/" + System.currentTimeMillis());
    Files.createDirectories(data);
    try (FaultFleet fleet = new FaultFleet(root, data)) {
      fleet.start();
      String key = new ApiKeyStore(dataSource(fleet)).create(TENANT, false, "faults").secret();
      ExecutorService submitter = Executors.newSingleThreadExecutor();
      Future<?> submitting = submitter.submit(() -> submitAll(fleet.gateway(), key));
      try {
        injectFaults(fleet, key);
        submitting.get();
      } catch (Exception | AssertionError e) {
        throw new AssertionError(e + fleet.logTails(), e);
      } finally {
        submitter.shutdownNow();
      }
      Tally tally = settleAndCount(fleet);
      System.out.println("fault suite: " + String.join("; ", events));
      System.out.println(tally);
      assertEquals(JOBS + 1, tally.submitted, "every job (and the slow one) acknowledged");
      assertEquals(0, tally.lost, tally + fleet.logTails());
      assertEquals(0, tally.duplicated, tally + fleet.logTails());
      assertEquals(tally.submitted, tally.succeeded + tally.failed + tally.other, tally.toString());
      assertTrue(tally.succeeded > 0, tally.toString());
    }
    // Passed: the services' data goes, the children's logs stay.
    for (String service : List.of("postgres", "kafka", "s3")) {
      deleteTree(data.resolve(service));
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  // --- the jobs ---------------------------------------------------------------------------------

  private void submitAll(URI gateway, String key) {
    for (int i = 0; i < JOBS; i++) {
      // Small and fast, with every tenth one a little longer: more chances to die mid-job.
      int size = i % 10 == 0 ? 128 : 16;
      acknowledged.put(i, submit(gateway, key, i, size, 4));
      pause(60);
    }
  }

  /** Submits until the gateway acknowledges: retried under one Idempotency-Key. */
  private UUID submit(URI gateway, String key, int n, int size, int steps) {
    String body =
        "{\"prompt\":\"fault %d\",\"seed\":%d,\"steps\":%d,\"width\":%d,\"height\":%d}"
            .formatted(n, n, steps, size, size);
    HttpRequest request =
        HttpRequest.newBuilder(gateway.resolve("/v1/jobs"))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "fault-" + n)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 202) {
          return UUID.fromString(JSON.readTree(r.body()).get("id").asText());
        }
        last = r.statusCode() + " " + r.body();
        if (r.statusCode() < 500 && r.statusCode() != 429) {
          throw new AssertionError("job " + n + " refused: " + last);
        }
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      pause(500);
    }
    throw new AssertionError("job " + n + " never acknowledged; last answer: " + last);
  }

  // --- the faults -------------------------------------------------------------------------------

  private void injectFaults(FaultFleet fleet, String key) throws Exception {
    awaitAcknowledged(20);
    poison(fleet);
    event("poison messages sent");

    // A longer job, and its worker killed while it runs it.
    UUID slow = submit(fleet.gateway(), key, -1, 512, 40);
    acknowledged.put(-1, slow);
    Optional<String> worker = awaitRunningWorker(fleet, slow, Duration.ofSeconds(60));
    String victim = worker.orElse("worker-1");
    fleet.kill(victim);
    event(
        worker.isPresent()
            ? "kill -9 " + victim + " while it ran job " + slow
            : "kill -9 " + victim + " (the slow job was not seen running)");
    pause(4000); // past the lease expiry: the reaper re-queues its job
    fleet.restart(victim);
    event(victim + " restarted");

    awaitAcknowledged(80);
    fleet.stopS3();
    event("S3 down");
    pause(5000);
    fleet.startS3();
    event("S3 up");

    awaitAcknowledged(120);
    fleet.stopKafka();
    event("Kafka down");
    pause(3000);
    fleet.startKafka();
    event("Kafka up");

    awaitAcknowledged(160);
    fleet.stopPostgres();
    event("PostgreSQL down");
    pause(3000);
    fleet.startPostgres();
    event("PostgreSQL up");
  }

  /** Garbage, JSON that is no job, a job nobody submitted, and a duplicate of a real job. */
  private void poison(FaultFleet fleet) throws Exception {
    UUID real = acknowledged.get(0);
    String duplicate;
    try (Connection c = DriverManager.getConnection(fleet.jdbcUrl(), "fleet", "fleet");
        PreparedStatement ps =
            c.prepareStatement("SELECT payload FROM outbox WHERE message_key = ? ORDER BY id")) {
      ps.setString(1, real.toString());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        duplicate = rs.getString(1);
      }
    }
    UUID stranger = UUID.randomUUID();
    Map<String, String> records = new HashMap<>();
    records.put("garbage", "\u0000\u00ff not json at all {");
    records.put("empty", "{}");
    records.put("no-job", "{\"jobId\":\"" + UUID.randomUUID() + "\"}");
    records.put(stranger.toString(), duplicate.replace(real.toString(), stranger.toString()));
    records.put(real.toString(), duplicate);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", fleet.kafkaBootstrap(), "acks", "all"),
            new StringSerializer(),
            new StringSerializer())) {
      for (var r : records.entrySet()) {
        producer.send(new ProducerRecord<>(FaultFleet.TOPIC, r.getKey(), r.getValue())).get();
      }
    }
  }

  private Optional<String> awaitRunningWorker(FaultFleet fleet, UUID id, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Connection c = DriverManager.getConnection(fleet.jdbcUrl(), "fleet", "fleet");
        PreparedStatement ps = c.prepareStatement("SELECT state, worker FROM jobs WHERE id = ?")) {
      ps.setObject(1, id);
      while (System.nanoTime() < deadline) {
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            if ("RUNNING".equals(rs.getString(1)) && rs.getString(2) != null) {
              return Optional.of(rs.getString(2));
            }
            if (!Set.of("QUEUED", "RUNNING").contains(rs.getString(1))) {
              return Optional.empty();
            }
          }
        }
        pause(20);
      }
    }
    return Optional.empty();
  }

  private void awaitAcknowledged(int n) {
    while (acknowledged.size() < Math.min(n, JOBS)) {
      pause(100);
    }
  }

  private void event(String what) {
    events.add(what);
    log(what);
  }

  private static void log(String what) {
    System.out.println("fault suite: " + java.time.LocalTime.now() + " " + what);
  }

  // --- the count --------------------------------------------------------------------------------

  /** What became of the acknowledged jobs. */
  static final class Tally {
    int submitted;
    int succeeded;
    int failed;
    int other;
    int lost;
    int duplicated;
    int retried;
    final Map<String, Integer> reasons = new TreeMap<>();
    final List<String> problems = new ArrayList<>();

    @Override
    public String toString() {
      return ("submitted %d, succeeded %d, failed %d %s, other %d, lost %d, duplicated %d"
              + " (%d ran more than one attempt)%s")
          .formatted(
              submitted,
              succeeded,
              failed,
              reasons,
              other,
              lost,
              duplicated,
              retried,
              problems.isEmpty() ? "" : " " + problems.subList(0, Math.min(10, problems.size())));
    }
  }

  private Tally settleAndCount(FaultFleet fleet) throws Exception {
    Tally t = new Tally();
    t.submitted = acknowledged.size();
    MinioClient s3 =
        MinioClient.builder()
            .endpoint(fleet.s3Endpoint())
            .credentials(FaultFleet.S3_KEY, FaultFleet.S3_SECRET)
            .build();
    try (Connection c = DriverManager.getConnection(fleet.jdbcUrl(), "fleet", "fleet")) {
      long deadline = System.nanoTime() + SETTLE.toNanos();
      long reported = 0;
      for (long active = active(c); active > 0 && System.nanoTime() < deadline; ) {
        if (System.nanoTime() - reported > 10_000_000_000L) {
          log(active + " job(s) not finished yet");
          reported = System.nanoTime();
        }
        pause(500);
        active = active(c);
      }
      for (UUID id : acknowledged.values()) {
        count(t, c, s3, id);
      }
      try (PreparedStatement ps =
          c.prepareStatement("SELECT state, attempts, worker FROM jobs WHERE id = ?")) {
        ps.setObject(1, acknowledged.get(-1));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          event(
              "the killed worker's job ended %s at attempt %d on %s"
                  .formatted(rs.getString(1), rs.getInt(2), rs.getString(3)));
        }
      }
    }
    return t;
  }

  private long active(Connection c) throws Exception {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT count(*) FROM jobs WHERE tenant = ? AND state IN ('QUEUED', 'RUNNING')"); ) {
      ps.setString(1, TENANT);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private void count(Tally t, Connection c, MinioClient s3, UUID id) throws Exception {
    String state;
    String resultKey;
    String reason;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT state, result_key, error_code, attempts FROM jobs WHERE id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          t.lost++;
          t.problems.add(id + " is not in the store");
          return;
        }
        state = rs.getString(1);
        resultKey = rs.getString(2);
        reason = rs.getString(3);
        if (rs.getInt(4) > 1) {
          t.retried++;
        }
      }
    }
    List<String> objects = new ArrayList<>();
    for (Result<Item> r :
        s3.listObjects(
            ListObjectsArgs.builder()
                .bucket(FaultFleet.BUCKET)
                .prefix(TENANT + "/" + id + "/")
                .recursive(true)
                .build())) {
      objects.add(r.get().objectName());
    }
    switch (state) {
      case "QUEUED", "RUNNING" -> {
        t.lost++;
        t.problems.add(id + " still " + state);
      }
      case "SUCCEEDED" -> {
        t.succeeded++;
        if (!objects.equals(List.of(resultKey))) {
          t.duplicated++;
          t.problems.add(id + " has objects " + objects + ", result " + resultKey);
        } else if (!readable(s3, resultKey)) {
          t.lost++;
          t.problems.add(id + ": " + resultKey + " is no readable PNG");
        }
      }
      default -> {
        if ("FAILED".equals(state)) {
          t.failed++;
          t.reasons.merge(reason, 1, Integer::sum);
        } else {
          t.other++;
          t.reasons.merge(state, 1, Integer::sum);
        }
        if (!objects.isEmpty()) {
          t.duplicated++;
          t.problems.add(id + " is " + state + " but has objects " + objects);
        }
      }
    }
  }

  private static boolean readable(MinioClient s3, String key) throws Exception {
    try (InputStream in =
        s3.getObject(GetObjectArgs.builder().bucket(FaultFleet.BUCKET).object(key).build())) {
      BufferedImage image = ImageIO.read(in);
      return image != null && image.getWidth() > 0;
    }
  }

  private static javax.sql.DataSource dataSource(FaultFleet fleet) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(fleet.jdbcUrl());
    ds.setUser("fleet");
    ds.setPassword("fleet");
    return ds;
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
