package dev.fleet.stack;

import dev.fleet.model.cli.CommandLines;
import dev.fleet.model.cli.HelpOption;
import java.io.PrintStream;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

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
@Command(
    name = "./fleet stack",
    description =
        "Starts Kafka (KRaft), PostgreSQL and an S3 server on this machine, prints their"
            + " endpoints and stops them cleanly on Ctrl-C. Data lives in the data directory and"
            + " survives a restart.",
    footer = "Exit status: 0 stopped cleanly, 1 the start or the stop failed, 2 bad arguments.")
public final class StackMain {
  static final int STOP_SECONDS = 10;

  @Mixin private HelpOption help = new HelpOption();

  @Mixin private StackOptions stack = new StackOptions();

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
    StackMain command = new StackMain();
    CommandLine line = CommandLines.parse(command, true, args);
    return line.isUsageHelpRequested() ? null : command.stack.config();
  }

  private static void usage(PrintStream out) {
    out.print(CommandLines.usage(new StackMain()));
  }
}
