package dev.fleet.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The one stack that the tests of a JVM share (temporary data directory, free ports), started on
 * first use and stopped when the JVM ends or when {@link #stop()} is called. {@link
 * FleetStackExtension} and {@link FleetStackTestResource} both go through here.
 *
 * <p>The running stack's endpoints are also published as system properties: Quarkus loads test
 * resources in its own class loaders, where this class (and its static state) exists once more, and
 * those copies must find the running stack instead of starting a second one.
 */
public final class SharedStack {
  private static final String PROPERTY_PREFIX = "dev.fleet.stack.shared.";
  private static final String[] FIELDS = {
    "kafka",
    "jdbc-url",
    "jdbc-user",
    "jdbc-password",
    "s3",
    "s3-access-key",
    "s3-secret-key",
    "s3-bucket"
  };

  private static EmbeddedStack stack;
  private static Path dataDir;
  private static Thread shutdownHook;

  private SharedStack() {}

  /** The shared stack's endpoints, starting it if no class loader of this JVM has yet. */
  public static synchronized StackEndpoints endpoints() {
    StackEndpoints running = published();
    if (running != null) {
      return running;
    }
    QuietLogging.services();
    try {
      dataDir = Files.createTempDirectory("fleet-stack-");
      stack = EmbeddedStack.start(StackConfig.withFreePorts(dataDir));
    } catch (IOException e) {
      deleteQuietly(dataDir);
      throw new UncheckedIOException("cannot start the shared test stack", e);
    }
    shutdownHook = new Thread(SharedStack::stop, "fleet-shared-stack-stop");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    publish(stack.endpoints());
    return stack.endpoints();
  }

  /** Stops the shared stack if this class loader started it, and deletes its data. */
  public static synchronized void stop() {
    if (stack == null) {
      return;
    }
    try {
      stack.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      stack = null;
      for (String field : FIELDS) {
        System.clearProperty(PROPERTY_PREFIX + field);
      }
      deleteQuietly(dataDir);
      removeHook();
    }
  }

  private static void removeHook() {
    try {
      if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      }
    } catch (IllegalStateException alreadyShuttingDown) {
      // The hook runs, or has run, anyway; stop() is idempotent.
    }
    shutdownHook = null;
  }

  private static void publish(StackEndpoints e) {
    String[] values = {
      e.kafkaBootstrapServers(),
      e.jdbcUrl(),
      e.jdbcUser(),
      e.jdbcPassword(),
      e.s3Endpoint(),
      e.s3AccessKey(),
      e.s3SecretKey(),
      e.s3Bucket()
    };
    // The first field goes last: its presence is what tells others the stack is up.
    for (int i = FIELDS.length - 1; i >= 0; i--) {
      System.setProperty(PROPERTY_PREFIX + FIELDS[i], values[i]);
    }
  }

  private static StackEndpoints published() {
    String[] v = new String[FIELDS.length];
    for (int i = 0; i < FIELDS.length; i++) {
      v[i] = System.getProperty(PROPERTY_PREFIX + FIELDS[i]);
      if (v[i] == null) {
        return null;
      }
    }
    return new StackEndpoints(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // A temporary directory; leaving it behind is harmless.
    }
  }
}
