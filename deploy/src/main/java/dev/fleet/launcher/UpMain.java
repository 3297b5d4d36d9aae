package dev.fleet.launcher;

import dev.fleet.model.cli.CommandLines;
import dev.fleet.model.cli.HelpOption;
import dev.fleet.stack.PortConverter;
import dev.fleet.stack.StackOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./fleet up}: the whole fleet on this machine until Ctrl-C or SIGTERM.
 *
 * <pre>
 * java -cp deploy.jar:lib/* dev.fleet.launcher.UpMain --root DIR --model-dir DIR [--data DIR]
 *     [--port N] [--worker-port N] [--kafka-port N] [--postgres-port N] [--s3-port N]
 * </pre>
 *
 * <p>Starts a {@link LocalFleet} (defaults: Kafka 9092, PostgreSQL 15432, S3 9000, gateway 8080,
 * worker 8081, data in {@code ./.fleet}), prints its URLs and waits. On SIGTERM or Ctrl-C it stops
 * everything, prints {@code fleet stopped} and exits 0 (1 if the stop failed; 2 for bad arguments).
 * A gateway or worker that exits on its own is restarted with back-off ({@link
 * LocalFleet#supervise}).
 */
@Command(
    name = "./fleet up",
    description =
        "The whole fleet on this machine: Kafka, PostgreSQL and S3, the gateway and one worker,"
            + " until Ctrl-C. The fleet keeps its data in ./.fleet (a restart finds it again), logs"
            + " in ./.fleet/logs.",
    footer = {
      "FLEET_MODEL: the worker's model directory; FLEET_GATEWAY_OPTS, FLEET_WORKER_OPTS: extra"
          + " JVM options (-Dkey=value) for the gateway and the worker.",
      "Exit status: 0 stopped cleanly, 1 the start or the stop failed, 2 bad arguments."
    })
public final class UpMain {
  static final int DEFAULT_GATEWAY_PORT = 8080;
  static final int DEFAULT_WORKER_PORT = 8081;

  private static volatile int exitStatus;

  @Mixin private HelpOption help = new HelpOption();

  @Option(
      names = "--port",
      paramLabel = "N",
      converter = PortConverter.class,
      description = "the gateway's port (default 8080; 0 = any free port)")
  private int gatewayPort = DEFAULT_GATEWAY_PORT;

  @Option(
      names = "--worker-port",
      paramLabel = "N",
      converter = PortConverter.class,
      description = "the worker's port (default 8081)")
  private int workerPort = DEFAULT_WORKER_PORT;

  @Mixin private StackOptions stack = new StackOptions();

  /** The checkout, passed by {@code ./fleet}. */
  @Option(names = "--root", paramLabel = "DIR", hidden = true)
  private Path root = Path.of("");

  /** The worker's model directory, passed by {@code ./fleet} ({@code FLEET_MODEL}). */
  @Option(names = "--model-dir", paramLabel = "DIR", hidden = true)
  private Path modelDir;

  private UpMain() {}

  public static void main(String[] argv) throws InterruptedException {
    UpMain args = new UpMain();
    try {
      if (CommandLines.parse(args, true, argv).isUsageHelpRequested()) {
        System.out.print(CommandLines.usage(args));
        return;
      }
    } catch (IllegalArgumentException e) {
      System.err.println("fleet up: " + e.getMessage());
      System.err.print(CommandLines.usage(new UpMain()));
      System.exit(2);
      return;
    }
    PrintStream out = System.out;
    LocalFleet fleet;
    try {
      fleet =
          LocalFleet.start(
              new LocalFleet.Options(
                  args.root,
                  args.stack.config(),
                  args.modelDir(),
                  args.gatewayPort,
                  args.workerPort,
                  LocalFleet.DEFAULT_READY_TIMEOUT,
                  false,
                  out));
    } catch (LocalFleet.Stopped e) {
      System.exit(130);
      return;
    } catch (IOException e) {
      System.err.println("fleet up: " + FailureMessage.describe(e));
      System.exit(1);
      return;
    }

    // The JVM runs shutdown hooks on SIGTERM, SIGINT and SIGHUP alike; LocalFleet's own hook stops
    // the fleet, this one waits for that and ends the process with a status that says whether the
    // stop went well (rather than 143 or 130).
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stopAndHalt(fleet), "fleet-up-shutdown"));
    // A gateway or worker that crashes is started again (with back-off), not the fleet stopped.
    fleet.supervise(message -> System.err.println("fleet: " + message));

    String gateway = fleet.gatewayUrl().toString();
    out.println("fleet: up");
    out.println("  API       " + gateway + "/v1/jobs");
    boolean console =
        new HealthProbe(Duration.ofSeconds(2)).status(URI.create(gateway + "/")) / 100 == 2;
    out.println("  console   " + fleet.consoleUrl() + (console ? "" : "  (not there yet)"));
    out.println("  OpenAPI   " + gateway + "/q/swagger-ui");
    out.println("  worker    " + fleet.workerUrl() + "/q/health (model " + args.modelDir() + ")");
    out.println("  data      " + LocalFleet.display(fleet.dataDir()));
    out.println("  logs      " + LocalFleet.display(fleet.logDir()));
    out.println(
        "  LoRAs     "
            + LocalFleet.display(fleet.lorasDir())
            + " (NAME.safetensors, used as \"loras\": [{\"name\": \"NAME\"}]; FLEET_LORAS)");
    out.println(
        "  API key   tenant "
            + DevKey.TENANT
            + ", kept in "
            + LocalFleet.display(fleet.dataDir().resolve(DevKey.FILE))
            + " (more: ./fleet keys create --tenant NAME)");
    out.println("            Authorization: Bearer " + fleet.devKey());
    out.println("fleet: Ctrl-C stops it");
    out.flush();

    new CountDownLatch(1).await(); // until the shutdown hook halts the JVM
  }

  private static void stopAndHalt(LocalFleet fleet) {
    int status = exitStatus;
    try {
      fleet.close();
      System.out.println("fleet: stopped");
    } catch (IOException | RuntimeException e) {
      System.err.println("fleet: did not stop cleanly: " + e.getMessage());
      status = 1;
    }
    System.out.flush();
    System.err.flush();
    Runtime.getRuntime().halt(status);
  }

  /** The worker's model: {@code --model-dir}, or the bundled model under {@code --root}. */
  private Path modelDir() {
    return modelDir != null ? modelDir : root.resolve("gpu-worker/models/flux-shapes");
  }
}
