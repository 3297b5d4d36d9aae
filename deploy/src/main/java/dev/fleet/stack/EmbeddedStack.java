package dev.fleet.stack;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fleet's local infrastructure in one object: PostgreSQL, Kafka and an S3-compatible server,
 * each keeping its data in a sub-directory of {@link StackConfig#dataDir()}.
 *
 * <p>The three start in parallel (they are independent and mostly wait on I/O), and stop in the
 * reverse of their logical order: S3, Kafka, then PostgreSQL.
 */
public final class EmbeddedStack implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedStack.class);
  private static final int FREE_PORT_ATTEMPTS = 3;
  private final Path dataDir;
  private final EmbeddedPostgres postgres;
  private final EmbeddedKafka kafka;
  private final EmbeddedS3 s3;
  private final StackEndpoints endpoints;
  private boolean closed;

  private EmbeddedStack(
      Path dataDir, EmbeddedPostgres postgres, EmbeddedKafka kafka, EmbeddedS3 s3, StackConfig c) {
    this.dataDir = dataDir;
    this.postgres = postgres;
    this.kafka = kafka;
    this.s3 = s3;
    this.endpoints =
        new StackEndpoints(
            kafka.bootstrapServers(),
            postgres.jdbcUrl(),
            postgres.user(),
            postgres.password(),
            s3.endpoint(),
            c.s3AccessKey(),
            c.s3SecretKey(),
            c.s3Bucket());
  }

  /**
   * Starts all three services; if one fails, the others are stopped again before throwing.
   *
   * <p>A port given as 0 is picked free just before its service binds it, and another process (or
   * an outgoing connection, which draws from the same ephemeral range) can take it in between. A
   * start with such ports is therefore tried up to {@value #FREE_PORT_ATTEMPTS} times, on new ports
   * each time; a start on fixed ports is tried once. The error names every service's failure.
   */
  public static EmbeddedStack start(StackConfig config) throws IOException {
    boolean picksPorts =
        config.kafkaPort() == 0 || config.postgresPort() == 0 || config.s3Port() == 0;
    int attempts = picksPorts ? FREE_PORT_ATTEMPTS : 1;
    for (int attempt = 1; ; attempt++) {
      try {
        return startOnce(config);
      } catch (InterruptedIOException e) {
        throw e;
      } catch (IOException e) {
        if (attempt >= attempts || Thread.currentThread().isInterrupted()) {
          throw e;
        }
        LOG.warn(
            "{}; trying again on other free ports ({} of {})",
            e.getMessage(),
            attempt + 1,
            attempts);
      }
    }
  }

  private static EmbeddedStack startOnce(StackConfig config) throws IOException {
    Path dir = config.dataDir().toAbsolutePath().normalize();
    Files.createDirectories(dir);
    // A killed stack leaves its PostgreSQL running, on the port that the check below tests.
    EmbeddedPostgres.stopOrphanedServer(dir.resolve("postgres"));
    // Fail before anything starts when a fixed port is taken, typically by a stack still running.
    Ports.checkFree(config.postgresPort(), "PostgreSQL");
    Ports.checkFree(config.kafkaPort(), "Kafka");
    Ports.checkFree(config.s3Port(), "S3");
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            3, r -> new Thread(r, "fleet-stack-start-" + n.incrementAndGet()));
    try {
      Future<EmbeddedPostgres> pg =
          pool.submit(() -> EmbeddedPostgres.start(dir.resolve("postgres"), config.postgresPort()));
      Future<EmbeddedKafka> kafka =
          pool.submit(() -> EmbeddedKafka.start(dir.resolve("kafka"), config.kafkaPort()));
      Future<EmbeddedS3> s3 =
          pool.submit(
              () ->
                  EmbeddedS3.start(
                      dir.resolve("s3"),
                      config.s3Port(),
                      config.s3AccessKey(),
                      config.s3SecretKey(),
                      config.s3Bucket()));

      // Wait for every start to finish (an interrupt included), so that a failure never leaves a
      // service running that nobody will stop.
      List<AutoCloseable> started = new ArrayList<>();
      Throwable failure = null;
      boolean interrupted = false;
      for (Future<? extends AutoCloseable> f : List.of(pg, kafka, s3)) {
        while (true) {
          try {
            started.add(f.get());
          } catch (ExecutionException e) {
            failure = addTo(failure, e.getCause());
          } catch (InterruptedException e) {
            interrupted = true;
            continue;
          }
          break;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
        failure = addTo(failure, new InterruptedIOException("interrupted while starting"));
      }
      if (failure != null) {
        closeAll(started.reversed(), failure);
        throw new IOException(
            "the local stack did not start in " + dir + ": " + describe(failure), failure);
      }
      return new EmbeddedStack(dir, pg.resultNow(), kafka.resultNow(), s3.resultNow(), config);
    } finally {
      pool.shutdown();
    }
  }

  public StackEndpoints endpoints() {
    return endpoints;
  }

  public Path dataDir() {
    return dataDir;
  }

  public EmbeddedPostgres postgres() {
    return postgres;
  }

  public EmbeddedKafka kafka() {
    return kafka;
  }

  public EmbeddedS3 s3() {
    return s3;
  }

  /** Stops S3, then Kafka, then PostgreSQL; every one is stopped even if an earlier one fails. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    Throwable failure = closeAll(List.of(s3, kafka, postgres), null);
    if (failure != null) {
      throw new IOException("the local stack did not stop cleanly", failure);
    }
  }

  private static Throwable closeAll(List<AutoCloseable> services, Throwable failure) {
    for (AutoCloseable service : services) {
      try {
        service.close();
      } catch (Exception e) {
        failure = addTo(failure, e);
      }
    }
    return failure;
  }

  /** Each failure (the first and those added to it) as "Type: message", through to its cause. */
  static String describe(Throwable failure) {
    List<String> parts = new ArrayList<>();
    List<Throwable> all = new ArrayList<>(List.of(failure));
    all.addAll(List.of(failure.getSuppressed()));
    for (Throwable t : all) {
      StringBuilder chain = new StringBuilder();
      for (Throwable c = t; c != null && chain.length() < 600; c = c.getCause()) {
        if (!chain.isEmpty()) {
          chain.append(" <- ");
        }
        chain.append(c.getClass().getSimpleName());
        if (c.getMessage() != null) {
          chain.append(": ").append(c.getMessage().strip());
        }
        if (c.getCause() == c) {
          break;
        }
      }
      parts.add(chain.toString());
    }
    return String.join("; ", parts);
  }

  private static Throwable addTo(Throwable first, Throwable next) {
    if (first == null) {
      return next;
    }
    first.addSuppressed(next);
    return first;
  }
}
