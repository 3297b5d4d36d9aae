package dev.fleet.launcher;

import dev.fleet.stack.StackConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

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
public final class UpMain {
  static final int DEFAULT_GATEWAY_PORT = 8080;
  static final int DEFAULT_WORKER_PORT = 8081;

  private static volatile int exitStatus;

  private UpMain() {}

  /** The parsed command line; null fields take the defaults. */
  record Args(
      Path root, Path modelDir, StackConfig stack, int gatewayPort, int workerPort, boolean help) {}

  public static void main(String[] argv) throws InterruptedException {
    Args args;
    try {
      args = parse(argv);
    } catch (IllegalArgumentException e) {
      System.err.println("fleet up: " + e.getMessage());
      System.err.println(usage());
      System.exit(2);
      return;
    }
    if (args.help()) {
      System.out.println(usage());
      return;
    }
    PrintStream out = System.out;
    LocalFleet fleet;
    try {
      fleet =
          LocalFleet.start(
              new LocalFleet.Options(
                  args.root(),
                  args.stack(),
                  args.modelDir(),
                  args.gatewayPort(),
                  args.workerPort(),
                  LocalFleet.DEFAULT_READY_TIMEOUT,
                  false,
                  out));
    } catch (LocalFleet.Stopped e) {
      System.exit(130);
      return;
    } catch (IOException e) {
      System.err.println("fleet up: " + LocalFleet.describe(e));
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

  static Args parse(String[] argv) {
    Path root = Path.of("");
    Path modelDir = null;
    StackConfig stack = StackConfig.defaults();
    int gatewayPort = DEFAULT_GATEWAY_PORT;
    int workerPort = DEFAULT_WORKER_PORT;
    for (int i = 0; i < argv.length; i++) {
      String arg = argv[i];
      if (arg.equals("-h") || arg.equals("--help")) {
        return new Args(root, modelDir, stack, gatewayPort, workerPort, true);
      }
      if (i + 1 >= argv.length) {
        throw new IllegalArgumentException(
            arg.startsWith("-") ? arg + " needs a value" : "unexpected argument " + arg);
      }
      String value = argv[++i];
      switch (arg) {
        case "--root" -> root = Path.of(value);
        case "--model-dir" -> modelDir = Path.of(value);
        case "--data" -> stack = stack.withDataDir(Path.of(value));
        case "--port" -> gatewayPort = port(arg, value);
        case "--worker-port" -> workerPort = port(arg, value);
        case "--kafka-port" ->
            stack = stack.withPorts(port(arg, value), stack.postgresPort(), stack.s3Port());
        case "--postgres-port" ->
            stack = stack.withPorts(stack.kafkaPort(), port(arg, value), stack.s3Port());
        case "--s3-port" ->
            stack = stack.withPorts(stack.kafkaPort(), stack.postgresPort(), port(arg, value));
        default -> throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    if (modelDir == null) {
      modelDir = root.resolve("gpu-worker/models/flux-shapes");
    }
    return new Args(root, modelDir, stack, gatewayPort, workerPort, false);
  }

  private static int port(String option, String value) {
    try {
      int port = Integer.parseInt(value);
      if (port >= 0 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException(option + " needs a port number (0 = any free port)");
  }

  static String usage() {
    return """
        usage: ./fleet up [--port N] [--worker-port N] [--kafka-port N] [--postgres-port N] [--s3-port N]
          --port N           the gateway's port (default 8080; 0 = any free port)
          --worker-port N    the worker's port (default 8081)
          --kafka-port N     Kafka (default 9092)
          --postgres-port N  PostgreSQL (default 15432)
          --s3-port N        S3 (default 9000)
        The fleet keeps its data in ./.fleet (a restart finds it again), logs in ./.fleet/logs.
        FLEET_MODEL: the worker's model directory; FLEET_GATEWAY_OPTS, FLEET_WORKER_OPTS: extra
        JVM options (-Dkey=value) for the gateway and the worker.""";
  }
}
