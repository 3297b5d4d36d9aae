package dev.fleet.stack;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

/**
 * One Apache Kafka node in KRaft mode (broker and controller in one), running in this JVM.
 *
 * <p>The log directory survives restarts: it is formatted (which writes {@code meta.properties}
 * with a new cluster id) only the first time, and later starts reuse what is there.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final int NODE_ID = 1;
  private static final String BROKER_LISTENER = "PLAINTEXT";
  private static final String CONTROLLER_LISTENER = "CONTROLLER";

  private final KafkaRaftServer server;
  private final int port;
  private boolean closed;

  private EmbeddedKafka(KafkaRaftServer server, int port) {
    this.server = server;
    this.port = port;
  }

  /**
   * Formats {@code logDir} if it is new, then starts the node and returns once the broker is
   * unfenced (KafkaRaftServer.startup blocks until then).
   *
   * @param port the client port, 0 for a free one
   */
  public static EmbeddedKafka start(Path logDir, int port) throws IOException {
    Files.createDirectories(logDir);
    int brokerPort = Ports.resolveFree(port, "Kafka");
    // The controller port is internal; a static single-voter quorum stores no address in the
    // metadata log, so it may change from one start to the next.
    int controllerPort = Ports.free();
    Map<String, String> properties = properties(logDir, brokerPort, controllerPort);
    formatIfNew(logDir, properties);
    KafkaConfig config = new KafkaConfig(properties, false);
    KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
    try {
      server.startup();
    } catch (RuntimeException e) {
      stop(server);
      throw e;
    }
    return new EmbeddedKafka(server, brokerPort);
  }

  private static Map<String, String> properties(Path logDir, int brokerPort, int controllerPort) {
    Map<String, String> p = new TreeMap<>();
    p.put("process.roles", "broker,controller");
    p.put("node.id", String.valueOf(NODE_ID));
    p.put("controller.quorum.voters", NODE_ID + "@localhost:" + controllerPort);
    p.put("controller.listener.names", CONTROLLER_LISTENER);
    p.put("inter.broker.listener.name", BROKER_LISTENER);
    p.put(
        "listeners",
        BROKER_LISTENER
            + "://localhost:"
            + brokerPort
            + ","
            + CONTROLLER_LISTENER
            + "://localhost:"
            + controllerPort);
    p.put("advertised.listeners", BROKER_LISTENER + "://localhost:" + brokerPort);
    p.put(
        "listener.security.protocol.map",
        BROKER_LISTENER + ":PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT");
    p.put("log.dirs", logDir.toAbsolutePath().toString());
    p.put("metadata.log.dir", logDir.toAbsolutePath().toString());

    // A single node can hold only one replica of anything, internal topics included.
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "1");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "1");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    p.put("num.partitions", "1");
    p.put("auto.create.topics.enable", "true");

    // Local use: consumers should join at once, and a stop should not wait on long timers.
    p.put("group.initial.rebalance.delay.ms", "0");
    p.put("broker.heartbeat.interval.ms", "500");
    return p;
  }

  /**
   * Runs the storage tool's {@code format} (as {@code kafka-storage.sh format} would) unless the
   * directory already holds a {@code meta.properties}: formatting picks a new cluster id, and a
   * second format would orphan the data written under the first one.
   */
  private static void formatIfNew(Path logDir, Map<String, String> properties) throws IOException {
    if (Files.exists(logDir.resolve("meta.properties"))) {
      return;
    }
    Path configFile = Files.createTempFile("fleet-kafka-", ".properties");
    try {
      Properties config = new Properties();
      config.putAll(properties);
      try (Writer out = Files.newBufferedWriter(configFile)) {
        config.store(out, "fleet embedded Kafka, for the storage tool");
      }
      String[] args = {
        "format", "--config", configFile.toString(), "--cluster-id", Uuid.randomUuid().toString()
      };
      ByteArrayOutputStream output = new ByteArrayOutputStream();
      int status = StorageTool.execute(args, new PrintStream(output, true, UTF_8));
      if (status != 0) {
        throw new IOException("cannot format " + logDir + ": " + output.toString(UTF_8));
      }
    } finally {
      Files.deleteIfExists(configFile);
    }
  }

  /** The bootstrap servers string for clients, {@code localhost:PORT}. */
  public String bootstrapServers() {
    return "localhost:" + port;
  }

  public int port() {
    return port;
  }

  /** Controlled shutdown of broker then controller; waits until both have stopped. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    stop(server);
  }

  private static void stop(KafkaRaftServer server) {
    server.shutdown();
    server.awaitShutdown();
  }
}
