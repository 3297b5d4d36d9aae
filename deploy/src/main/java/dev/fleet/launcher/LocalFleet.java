package dev.fleet.launcher;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.process.ParentWatch;
import dev.fleet.stack.EmbeddedStack;
import dev.fleet.stack.Ports;
import dev.fleet.stack.StackConfig;
import dev.fleet.stack.StackEndpoints;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The whole fleet on this machine: the embedded stack (Kafka, PostgreSQL, S3) in this JVM, then the
 * gateway and one worker as child JVMs ({@code java -jar .../quarkus-run.jar}) pointed at the
 * stack's endpoints through {@code -D} overrides.
 *
 * <p>The children write their output to {@code <data>/logs/gateway.log} and {@code worker.log}, the
 * stack's services theirs to {@code <data>/logs/stack.log}. {@link #start} returns once both
 * children answer {@code /q/health/ready}; a child that exits or is not ready in time fails the
 * start with the name of its log file, and everything started so far is stopped again.
 *
 * <p>{@link #close} stops the children (SIGTERM, then SIGKILL after {@value #CHILD_STOP_SECONDS} s)
 * and then the stack. A shutdown hook does the same when the JVM is told to stop (Ctrl-C, SIGTERM),
 * so no child outlives the launcher short of a SIGKILL; and for that case the children's process
 * ids are kept in {@code <data>/fleet.pids}, and the next start on the same data directory stops
 * the orphans before anything else.
 */
public final class LocalFleet implements AutoCloseable {
  static final int CHILD_STOP_SECONDS = ChildProcesses.STOP_SECONDS;
  static final int STACK_START_WAIT_SECONDS = 60;

  /** How long the children may take to get ready: 180 s, or the property (seconds). */
  static final String READY_TIMEOUT_PROPERTY = "fleet.ready-timeout";

  static final Duration DEFAULT_READY_TIMEOUT =
      Duration.ofSeconds(Long.getLong(READY_TIMEOUT_PROPERTY, 180));
  static final String GATEWAY_JAR = "api-gateway/target/quarkus-app/quarkus-run.jar";
  static final String WORKER_JAR = "gpu-worker/target/quarkus-app/quarkus-run.jar";

  /**
   * What to start.
   *
   * @param root the repository root, where {@link #GATEWAY_JAR} and {@link #WORKER_JAR} are
   * @param stack the embedded stack's configuration; its data directory is the fleet's
   * @param modelDir the worker's model directory (FLUX.1-dev layout)
   * @param gatewayPort the gateway's HTTP port, 0 for a free one
   * @param workerPort the worker's HTTP port (health, metrics), 0 for a free one
   * @param ephemeral delete the data directory on close (its {@code logs/} stay when {@link
   *     LocalFleet#keepLogs} was called)
   * @param status where the one-line progress messages go
   */
  public record Options(
      Path root,
      StackConfig stack,
      Path modelDir,
      int gatewayPort,
      int workerPort,
      Duration readyTimeout,
      boolean ephemeral,
      PrintStream status,
      Path lorasDir) {

    /** Options with the default LoRA directory ({@link #defaultLorasDir}). */
    public Options(
        Path root,
        StackConfig stack,
        Path modelDir,
        int gatewayPort,
        int workerPort,
        Duration readyTimeout,
        boolean ephemeral,
        PrintStream status) {
      this(root, stack, modelDir, gatewayPort, workerPort, readyTimeout, ephemeral, status, null);
    }

    public Options {
      Objects.requireNonNull(root, "root");
      Objects.requireNonNull(stack, "stack");
      Objects.requireNonNull(modelDir, "modelDir");
      Objects.requireNonNull(readyTimeout, "readyTimeout");
      Objects.requireNonNull(status, "status");
    }

    public Path dataDir() {
      return stack.dataDir();
    }

    /** The LoRA directory the gateway and the worker share: given, or the default. */
    public Path loras() {
      return (lorasDir != null ? lorasDir : defaultLorasDir(root)).toAbsolutePath().normalize();
    }
  }

  /**
   * Where {@code ./fleet up} and {@code ./fleet run} look for LoRAs: {@code $FLEET_LORAS}, else
   * {@code .fleet/loras} in the checkout (also for a throw-away fleet, whose data directory goes).
   */
  public static Path defaultLorasDir(Path root) {
    String env = System.getenv("FLEET_LORAS");
    return env != null && !env.isBlank() ? Path.of(env) : root.resolve(".fleet").resolve("loras");
  }

  private final Options options;
  private final Path dataDir;
  private final Path logDir;
  private final Thread shutdownHook;
  private final PidFile pids;
  private final ChildProcesses processes;
  private final Object lock = new Object();
  private EmbeddedStack stack;
  private volatile boolean closing;
  private boolean closed;
  private boolean stackStarting;
  private boolean keepLogs;
  private int gatewayPort;
  private int workerPort;
  private String devKey;

  /** Stops PostgreSQL should this process be killed ({@link PostgresWatch}); null if none. */
  private Process postgresWatch;

  /** The start was cut short by {@link #close} (Ctrl-C while starting): nothing to report. */
  public static final class Stopped extends IOException {
    Stopped() {
      super("the fleet was stopped while starting");
    }
  }

  private LocalFleet(Options options) {
    this.options = options;
    this.dataDir = options.dataDir().toAbsolutePath().normalize();
    this.logDir = dataDir.resolve("logs");
    this.shutdownHook = new Thread(this::closeFromHook, "fleet-shutdown");
    this.pids = new PidFile(dataDir, CHILD_STOP_SECONDS);
    this.processes = new ChildProcesses(options.root(), pids, () -> closing);
  }

  /**
   * Starts the stack, the gateway and the worker, and waits until both children are ready.
   *
   * @throws IOException when something does not start; what did start is stopped again
   */
  public static LocalFleet start(Options options) throws IOException {
    LocalFleet fleet = new LocalFleet(options);
    Runtime.getRuntime().addShutdownHook(fleet.shutdownHook);
    try {
      fleet.boot();
      return fleet;
    } catch (IOException | RuntimeException e) {
      if (fleet.closing) {
        // Ctrl-C while starting: what failed then (a service got the signal too) is no news.
        fleet.closeQuietly();
        Stopped stopped = new Stopped();
        stopped.initCause(e);
        throw stopped;
      }
      fleet.keepLogs();
      fleet.closeQuietly();
      throw e;
    }
  }

  private void boot() throws IOException {
    long t0 = System.nanoTime();
    Path gatewayJar = jar(GATEWAY_JAR, "the gateway");
    Path workerJar = jar(WORKER_JAR, "the worker");
    Path modelDir = options.modelDir().toAbsolutePath().normalize();
    if (!Files.isDirectory(modelDir)) {
      throw new IOException("model directory " + modelDir + " does not exist");
    }
    Files.createDirectories(logDir);
    pids.stopOrphans(line -> status("%s", line));
    // Ports of the children first: a taken one fails before the stack spends seconds starting.
    int[] ports =
        Ports.resolveDistinct(
            new int[] {options.gatewayPort(), options.workerPort()},
            new String[] {"gateway", "worker"},
            "a fleet");
    gatewayPort = ports[0];
    workerPort = ports[1];
    Path stackLog = logDir.resolve("stack.log");
    ChildProcesses.rotate(stackLog);
    StackLogging.toFile(stackLog);

    synchronized (lock) {
      if (closing) {
        throw new Stopped();
      }
      stackStarting = true;
    }
    EmbeddedStack started = null;
    try {
      started = EmbeddedStack.start(options.stack().withDataDir(dataDir));
    } finally {
      synchronized (lock) {
        // A close() that came meanwhile waits for this, then stops the stack.
        stack = started;
        stackStarting = false;
        lock.notifyAll();
      }
    }
    if (closing) {
      throw new Stopped();
    }
    StackEndpoints e = started.endpoints();
    status(
        "stack up in %.1f s (Kafka %s, PostgreSQL %s, S3 %s)",
        seconds(t0), e.kafkaBootstrapServers(), e.jdbcUrl(), e.s3Endpoint());

    long t1 = System.nanoTime();
    postgresWatch = PostgresWatch.start(dataDir);
    Files.createDirectories(lorasDir());
    // Each child exits when this process is gone, however it ends (SIGKILL included).
    String parent = "-D" + ParentWatch.PROPERTY + "=" + ProcessHandle.current().pid();
    // The worker serves its model under the directory's name, and the gateway takes that name as
    // its default model (both overridable through FLEET_WORKER_OPTS / FLEET_GATEWAY_OPTS).
    String modelName = modelDir.getFileName().toString();
    List<String> gatewayArgs = new ArrayList<>();
    gatewayArgs.addAll(
        List.of(
            "-Dquarkus.http.host=localhost",
            "-Dquarkus.http.port=" + gatewayPort,
            "-Dfleet.default-model=" + modelName,
            "-Dfleet.loras.dir=" + lorasDir(),
            parent));
    List<String> workerArgs = new ArrayList<>();
    workerArgs.addAll(
        List.of(
            "-Dai.djl.offline=true",
            "--enable-native-access=ALL-UNNAMED",
            "-Dquarkus.http.host=localhost",
            "-Dquarkus.http.port=" + workerPort,
            "-Dfleet.worker.model-dir=" + modelDir,
            "-Dfleet.worker.model-name=" + modelName,
            "-Dfleet.worker.loras-dir=" + lorasDir(),
            // Static group membership: restarted after a crash, it takes its partitions back at
            // once (the job it ran comes again) instead of after Kafka's session timeout.
            "-Dkafka.group.instance.id=fleet-local-worker",
            parent));
    if (System.getenv("FLEET_WORKER_DEVICE") == null) {
      // CPU, or the GPU when DJL finds one; FLEET_WORKER_DEVICE=cpu|gpu decides otherwise.
      workerArgs.add("-Dfleet.worker.device=auto");
    }
    ChildProcesses.Child gateway =
        spawn("gateway", gatewayJar, gatewayArgs, "FLEET_GATEWAY_OPTS", gatewayPort);
    ChildProcesses.Child worker =
        spawn("worker", workerJar, workerArgs, "FLEET_WORKER_OPTS", workerPort);
    processes.writePids();

    Instant deadline = Instant.now().plus(options.readyTimeout());
    HealthProbe probe = new HealthProbe(Duration.ofSeconds(2));
    for (ChildProcesses.Child child : List.of(gateway, worker)) {
      processes.awaitReady(child, probe, deadline, options.readyTimeout());
    }
    // The gateway is ready, so its migrations ran: the api_keys table exists.
    devKey =
        DevKey.ensure(
            new ApiKeyStore(DevKey.dataSource(e.jdbcUrl(), e.jdbcUser(), e.jdbcPassword())),
            dataDir);
    status(
        "gateway :%d and worker :%d ready in %.1f s%s",
        gatewayPort,
        workerPort,
        seconds(t1),
        options.ephemeral() ? "" : " (logs in " + display(logDir) + ")");
  }

  /** The gateway's base URL, {@code http://localhost:PORT}. */
  public URI gatewayUrl() {
    return URI.create("http://localhost:" + gatewayPort);
  }

  /**
   * The local development key (tenant {@value DevKey#TENANT}), kept in {@code <data>/dev-key}: what
   * {@code ./fleet run} and the console use against this fleet.
   */
  public String devKey() {
    return devKey;
  }

  /**
   * The console's address with the development key in its fragment ({@code /#key=...}): the console
   * keeps the key in the browser and removes it from the address bar. A fragment is never sent to
   * the server, so the key appears in no request line or log.
   */
  public URI consoleUrl() {
    return URI.create(gatewayUrl() + "/#key=" + devKey);
  }

  public URI workerUrl() {
    return URI.create("http://localhost:" + workerPort);
  }

  public StackEndpoints endpoints() {
    return stack.endpoints();
  }

  /** The LoRA directory of the gateway and the worker (made when missing). */
  public Path lorasDir() {
    return options.loras();
  }

  public Path dataDir() {
    return dataDir;
  }

  public Path logDir() {
    return logDir;
  }

  /** True once {@link #close} was called, by the shutdown hook (Ctrl-C) or otherwise. */
  public boolean isClosing() {
    return closing;
  }

  /** For an ephemeral fleet: keep {@code logs/} when the data directory is deleted on close. */
  public void keepLogs() {
    synchronized (lock) {
      keepLogs = true;
    }
  }

  /**
   * Calls {@code listener} with a message when a child exits on its own (not through {@link
   * #close}), once per child.
   */
  public void onUnexpectedExit(Consumer<String> listener) {
    processes.onUnexpectedExit(listener);
  }

  /**
   * Stops the children (SIGTERM; SIGKILL after {@value #CHILD_STOP_SECONDS} s), then the stack; for
   * an ephemeral fleet, deletes its data. Safe to call twice and from the shutdown hook.
   */
  @Override
  public void close() throws IOException {
    synchronized (lock) {
      closing = true;
      if (closed) {
        return;
      }
      closed = true;
      // The stack's services cannot be stopped half-started (and must not outlive the JVM, which
      // the shutdown hook ends): let a start in progress finish first.
      long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(STACK_START_WAIT_SECONDS);
      while (stackStarting && System.nanoTime() < waitUntil) {
        try {
          lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(waitUntil - System.nanoTime())));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException | SecurityException e) {
        // the JVM is already stopping: the hook is what calls us
      }
      IOException failure = null;
      try {
        processes.stopAll(options.status());
      } catch (RuntimeException e) {
        failure = new IOException("the fleet's processes did not stop cleanly", e);
      }
      if (stack != null) {
        try {
          stack.close();
        } catch (IOException | RuntimeException e) {
          failure = add(failure, e);
        }
      }
      pids.delete();
      if (postgresWatch != null) {
        postgresWatch.destroy();
      }
      if (options.ephemeral()) {
        Cleanup.deleteTree(dataDir, keepLogs ? logDir : null);
      }
      if (failure != null) {
        throw failure;
      }
    }
  }

  private void closeFromHook() {
    closing = true;
    try {
      close();
    } catch (IOException e) {
      System.err.println("fleet: " + e.getMessage());
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (IOException e) {
      System.err.println("fleet: " + e.getMessage());
    }
  }

  private static IOException add(IOException failure, Exception e) {
    if (failure == null) {
      return e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
    failure.addSuppressed(e);
    return failure;
  }

  // --- children ---------------------------------------------------------------------------------

  private Path jar(String relative, String what) throws IOException {
    Path jar = options.root().resolve(relative).toAbsolutePath().normalize();
    if (!Files.isRegularFile(jar)) {
      throw new IOException(
          what + " is not built: " + jar + " is missing (./fleet build, or ./mvnw install)");
    }
    return jar;
  }

  /**
   * Starts a child JVM on {@code jar} with {@code jvmArgs}, the stack's endpoints and the user's
   * options from {@code optsEnv}; its output goes to {@code <data>/logs/NAME.log}.
   */
  private ChildProcesses.Child spawn(
      String name, Path jar, List<String> jvmArgs, String optsEnv, int port) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(javaBinary());
    command.addAll(jvmArgs);
    stack.endpoints().asQuarkusConfig().forEach((k, v) -> command.add("-D" + k + "=" + v));
    // Last, so that the user's options win over ours.
    String extra = System.getenv(optsEnv);
    if (extra != null && !extra.isBlank()) {
      command.addAll(Arrays.asList(extra.trim().split("\\s+")));
    }
    command.add("-jar");
    command.add(jar.toString());
    return processes.spawn(name, command, logDir.resolve(name + ".log"), port);
  }

  /**
   * From now on, a child that exits on its own (a crash, kill -9) is started again with the same
   * command after a back-off ({@link RestartBackoff#DEFAULT}: 1 s, doubling per crash in a row up
   * to 30 s; back to 1 s once it ran a minute), rather than the fleet stopping; {@code events}
   * hears of each exit and restart.
   */
  public void supervise(Consumer<String> events) {
    processes.supervise(events);
  }

  private static String javaBinary() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  // --- helpers
  // ------------------------------------------------------------------------------------

  private void status(String format, Object... args) {
    options.status().println("fleet: " + String.format(Locale.ROOT, format, args));
    options.status().flush();
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /** A path relative to the working directory when it lies below it. */
  static String display(Path path) {
    Path cwd = Path.of("").toAbsolutePath();
    Path abs = path.toAbsolutePath().normalize();
    return abs.startsWith(cwd) && !abs.equals(cwd)
        ? cwd.relativize(abs).toString()
        : abs.toString();
  }
}
