package dev.fleet.faults;

import dev.fleet.model.process.ParentWatch;
import dev.fleet.stack.EmbeddedKafka;
import dev.fleet.stack.EmbeddedPostgres;
import dev.fleet.stack.EmbeddedS3;
import dev.fleet.stack.QuietLogging;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * The fleet the fault suite breaks: PostgreSQL, Kafka and S3 in this JVM, each of which can be
 * stopped and started again on its port and data, and the gateway and two workers as child JVMs
 * (their runner jars), which can be killed with SIGKILL and started again with the same command.
 *
 * <p>Short lease and heartbeat settings, so that a killed worker's job is re-queued within seconds;
 * the workers' topic has two partitions, so that both workers take jobs.
 */
final class FaultFleet implements AutoCloseable {
  static final String S3_KEY = EmbeddedS3.DEFAULT_ACCESS_KEY;
  static final String S3_SECRET = EmbeddedS3.DEFAULT_SECRET_KEY;
  static final String BUCKET = EmbeddedS3.DEFAULT_BUCKET;
  // MemoryClass.topic: the jobs of class vram-8g for the workers' model.
  static final String TOPIC = "vram-8g.flux-tiny";

  private final Path root;
  private final Path data;
  private final int pgPort;
  private final int kafkaPort;
  private final int s3Port;
  private final int gatewayPort;
  private final List<String> workerArgs;
  private final Map<String, Child> children = new LinkedHashMap<>();
  private EmbeddedPostgres postgres;
  private EmbeddedKafka kafka;
  private EmbeddedS3 s3;

  /** A child JVM and the command that starts it again. */
  private record Child(String name, List<String> command, Path log, int port, Process process) {}

  FaultFleet(Path root, Path data) throws IOException {
    this(root, data, List.of());
  }

  /**
   * @param workerArgs further arguments of both workers' JVMs, e.g. {@code
   *     -Dfleet.worker.drain-timeout=1s}
   */
  FaultFleet(Path root, Path data, List<String> workerArgs) throws IOException {
    QuietLogging.services();
    this.workerArgs = List.copyOf(workerArgs);
    this.root = root;
    this.data = data;
    this.pgPort = freePort();
    this.kafkaPort = freePort();
    this.s3Port = freePort();
    this.gatewayPort = freePort();
  }

  void start() throws Exception {
    startPostgres();
    startKafka();
    startS3();
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(TOPIC, 2, (short) 1))).all().get();
    }
    spawn(
        "gateway",
        "api-gateway/target/quarkus-app/quarkus-run.jar",
        gatewayPort,
        List.of(
            "-Dfleet.default-model=flux-tiny",
            "-Dfleet.jobs.lease-expiry=3s",
            "-Dfleet.jobs.reaper-interval=1s",
            "-Dfleet.outbox.max-backoff=1s",
            "-Dfleet.limits.submit-rate=0",
            "-Dfleet.limits.max-active-jobs=0"));
    awaitReady("gateway", Duration.ofMinutes(3));
    for (String worker : List.of("worker-1", "worker-2")) {
      List<String> args = new ArrayList<>();
      args.addAll(
          List.of(
              "-Dai.djl.offline=true",
              "--enable-native-access=ALL-UNNAMED",
              "-Dfleet.worker.model-dir=" + root.resolve("gpu-worker/models/flux-tiny"),
              "-Dfleet.worker.model-name=flux-tiny",
              "-Dfleet.worker.id=" + worker,
              "-Dfleet.worker.heartbeat-interval=500ms",
              "-Dfleet.worker.retry-patience=90s",
              "-Dkafka.group.instance.id=fault-" + worker,
              "-Dkafka.session.timeout.ms=6000",
              "-Dkafka.heartbeat.interval.ms=1000"));
      args.addAll(workerArgs);
      spawn(worker, "gpu-worker/target/quarkus-app/quarkus-run.jar", freePort(), args);
    }
    for (String worker : List.of("worker-1", "worker-2")) {
      awaitReady(worker, Duration.ofMinutes(3));
    }
  }

  URI gateway() {
    return URI.create("http://localhost:" + gatewayPort);
  }

  String jdbcUrl() {
    return postgres.jdbcUrl();
  }

  String kafkaBootstrap() {
    return "localhost:" + kafkaPort;
  }

  String s3Endpoint() {
    return "http://localhost:" + s3Port;
  }

  // --- services ---------------------------------------------------------------------------------

  void startPostgres() throws IOException {
    postgres = EmbeddedPostgres.start(data.resolve("postgres"), pgPort);
  }

  void stopPostgres() throws IOException {
    postgres.close();
  }

  void startKafka() throws IOException {
    kafka = EmbeddedKafka.start(data.resolve("kafka"), kafkaPort);
  }

  void stopKafka() {
    kafka.close();
  }

  void startS3() throws IOException {
    s3 = EmbeddedS3.start(data.resolve("s3"), s3Port, S3_KEY, S3_SECRET, BUCKET);
  }

  void stopS3() throws IOException {
    s3.close();
  }

  // --- children ---------------------------------------------------------------------------------

  private void spawn(String name, String jar, int port, List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.addAll(args);
    command.add("-Dquarkus.http.host=localhost");
    command.add("-Dquarkus.http.port=" + port);
    command.add("-D" + ParentWatch.PROPERTY + "=" + ProcessHandle.current().pid());
    command.add("-Dkafka.bootstrap.servers=" + kafkaBootstrap());
    command.add("-Dquarkus.datasource.jdbc.url=" + postgres.jdbcUrl());
    command.add("-Dquarkus.datasource.username=" + postgres.user());
    command.add("-Dquarkus.datasource.password=" + postgres.password());
    command.add("-Dfleet.s3.endpoint=" + s3Endpoint());
    command.add("-Dfleet.s3.access-key=" + S3_KEY);
    command.add("-Dfleet.s3.secret-key=" + S3_SECRET);
    command.add("-Dfleet.s3.bucket=" + BUCKET);
    command.add("-jar");
    command.add(root.resolve(jar).toString());
    Path log = data.resolve(name + ".log");
    children.put(name, new Child(name, command, log, port, launch(command, log)));
  }

  private Process launch(List<String> command, Path log) throws IOException {
    return new ProcessBuilder(command)
        .directory(root.toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
  }

  /** SIGKILL: no drain, no hand-back, no offset commit. */
  void kill(String name) throws InterruptedException {
    Process p = children.get(name).process();
    p.destroyForcibly();
    p.waitFor();
  }

  /**
   * SIGTERM: a graceful stop (a worker drains). Whether the child exited within {@code timeout}; it
   * is killed if not.
   */
  boolean terminate(String name, Duration timeout) throws InterruptedException {
    Process p = children.get(name).process();
    p.destroy();
    if (p.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
      return true;
    }
    p.destroyForcibly().waitFor();
    return false;
  }

  /** The log a child wrote so far. */
  String log(String name) throws IOException {
    return Files.readString(children.get(name).log());
  }

  /** Starts a killed child again with its command, and waits until it is ready. */
  void restart(String name) throws Exception {
    Child c = children.get(name);
    children.put(
        name, new Child(name, c.command(), c.log(), c.port(), launch(c.command(), c.log())));
    awaitReady(name, Duration.ofMinutes(3));
  }

  /** The last lines of every child's log, for a failure message. */
  String logTails() {
    StringBuilder b = new StringBuilder();
    for (Child c : children.values()) {
      try {
        List<String> lines = Files.readAllLines(c.log());
        b.append("\n--- ").append(c.name()).append(" ---\n");
        lines
            .subList(Math.max(0, lines.size() - 40), lines.size())
            .forEach(l -> b.append(l).append('\n'));
      } catch (IOException e) {
        b.append(e).append('\n');
      }
    }
    return b.toString();
  }

  private void awaitReady(String name, Duration timeout) throws Exception {
    Child c = children.get(name);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest ready =
        HttpRequest.newBuilder(URI.create("http://localhost:" + c.port() + "/q/health/ready"))
            .timeout(Duration.ofSeconds(3))
            .build();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!c.process().isAlive()) {
        throw new IllegalStateException(name + " exited while starting:" + logTails());
      }
      try {
        if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException(name + " not ready within " + timeout + ":" + logTails());
  }

  @Override
  public void close() throws Exception {
    for (Child c : children.values()) {
      c.process().destroy();
    }
    for (Child c : children.values()) {
      c.process().waitFor();
    }
    for (AutoCloseable service : new AutoCloseable[] {s3, kafka, postgres}) {
      if (service != null) {
        try {
          service.close();
        } catch (Exception e) {
          // stopped already (a fault left it so), or it fails to stop: the data is temporary
        }
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
