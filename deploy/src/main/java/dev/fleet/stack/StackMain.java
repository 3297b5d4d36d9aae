package dev.fleet.stack;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs the local stack until the process is told to stop.
 *
 * <pre>
 * java -cp deploy.jar:lib/* dev.fleet.stack.StackMain [--data DIR] [--kafka-port N]
 *     [--postgres-port N] [--s3-port N]
 * </pre>
 *
 * <p>Prints one {@code name: value} line per endpoint, then {@code stack ready}. On SIGTERM or
 * Ctrl-C it stops the services (within {@value #STOP_SECONDS} s), prints {@code stack stopped} and
 * exits 0; 1 if the stop failed or took too long, 2 for bad arguments.
 */
public final class StackMain {
  static final int STOP_SECONDS = 10;

  private StackMain() {}

  public static void main(String[] args) throws InterruptedException {
    StackConfig config;
    try {
      config = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      usage(System.err);
      System.exit(2);
      return;
    }
    if (config == null) {
      usage(System.out);
      return;
    }

    QuietLogging.everything();
    EmbeddedStack stack;
    try {
      stack = EmbeddedStack.start(config);
    } catch (Exception e) {
      System.err.println("error: " + e.getMessage());
      reasons(e).forEach(r -> System.err.println("  because: " + r));
      if (Boolean.getBoolean("fleet.stack.trace")) {
        e.printStackTrace();
      }
      System.exit(1);
      return;
    }

    // The JVM runs shutdown hooks on SIGTERM, SIGINT and SIGHUP alike. The hook ends the process
    // itself (halt) so that the exit status says whether the stop went well, rather than 143 or
    // 130, and so that no lingering non-daemon thread (S3Proxy's Jetty) holds the process open.
    Runtime.getRuntime()
        .addShutdownHook(new Thread(() -> stopAndHalt(stack), "fleet-stack-shutdown"));

    PrintStream out = System.out;
    out.println("data.dir: " + stack.dataDir());
    stack.endpoints().asMap().forEach((name, value) -> out.println(name + ": " + value));
    out.println("stack ready");
    out.flush();

    new CountDownLatch(1).await(); // until the shutdown hook halts the JVM
  }

  private static void stopAndHalt(EmbeddedStack stack) {
    int status = 0;
    CompletableFuture<Void> closing =
        CompletableFuture.runAsync(
            () -> {
              try {
                stack.close();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    try {
      closing.get(STOP_SECONDS, TimeUnit.SECONDS);
      System.out.println("stack stopped");
    } catch (TimeoutException e) {
      System.err.println("error: the stack did not stop within " + STOP_SECONDS + " s");
      status = 1;
    } catch (Exception e) {
      System.err.println("error: the stack did not stop cleanly: " + e.getMessage());
      status = 1;
    }
    System.out.flush();
    System.err.flush();
    Runtime.getRuntime().halt(status);
  }

  /** One line per failed service (they start in parallel): its message and the root cause's. */
  private static Set<String> reasons(Throwable stackFailure) {
    Set<String> reasons = new LinkedHashSet<>();
    Throwable first = stackFailure.getCause();
    if (first != null) {
      reasons.add(reason(first));
      for (Throwable other : first.getSuppressed()) {
        reasons.add(reason(other));
      }
    }
    return reasons;
  }

  private static String reason(Throwable failure) {
    Throwable root = failure;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return root == failure ? failure.toString() : failure.getMessage() + " (" + root + ")";
  }

  /** Returns null for {@code --help}. */
  static StackConfig parse(String[] args) {
    StackConfig config = StackConfig.defaults();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("-h") || arg.equals("--help")) {
        return null;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value for " + arg);
      }
      String value = args[++i];
      config =
          switch (arg) {
            case "--data" -> config.withDataDir(Path.of(value));
            case "--kafka-port" ->
                config.withPorts(port(arg, value), config.postgresPort(), config.s3Port());
            case "--postgres-port" ->
                config.withPorts(config.kafkaPort(), port(arg, value), config.s3Port());
            case "--s3-port" ->
                config.withPorts(config.kafkaPort(), config.postgresPort(), port(arg, value));
            default -> throw new IllegalArgumentException("unknown option " + arg);
          };
    }
    return config;
  }

  private static int port(String option, String value) {
    try {
      int port = Integer.parseInt(value);
      if (port >= 0 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(option + " needs a port number (0 = any free port)");
  }

  private static void usage(PrintStream out) {
    out.println(
        "usage: StackMain [--data DIR] [--kafka-port N] [--postgres-port N] [--s3-port N]\n"
            + "  --data DIR         data directory, kept between runs (default ./.fleet)\n"
            + "  --kafka-port N     Kafka client port (default 9092; 0 = any free port)\n"
            + "  --postgres-port N  PostgreSQL port (default 15432)\n"
            + "  --s3-port N        S3 endpoint port (default 9000)");
  }
}
