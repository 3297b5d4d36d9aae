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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
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
  static final int CHILD_STOP_SECONDS = 10;
  static final int STACK_START_WAIT_SECONDS = 60;

  /** How long the children may take to get ready: 180 s, or the property (seconds). */
  static final String READY_TIMEOUT_PROPERTY = "fleet.ready-timeout";

  static final Duration DEFAULT_READY_TIMEOUT =
      Duration.ofSeconds(Long.getLong(READY_TIMEOUT_PROPERTY, 180));
  static final String GATEWAY_JAR = "api-gateway/target/quarkus-app/quarkus-run.jar";
  static final String WORKER_JAR = "gpu-worker/target/quarkus-app/quarkus-run.jar";
  private static final int LOG_TAIL_LINES = 12;

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
  private final Object lock = new Object();
  private EmbeddedStack stack;
  private final List<Child> children = new ArrayList<>();
  private volatile boolean closing;
  private boolean closed;
  private boolean stackStarting;
  private boolean keepLogs;
  private int gatewayPort;
  private int workerPort;
  private String devKey;

  /** The start was cut short by {@link #close} (Ctrl-C while starting): nothing to report. */
  public static final class Stopped extends IOException {
    Stopped() {
      super("the fleet was stopped while starting");
    }
  }

  /** One started child JVM, and the command that started it (for a restart). */
  private record Child(String name, Process process, Path log, int port, List<String> command) {}

  private LocalFleet(Options options) {
    this.options = options;
    this.dataDir = options.dataDir().toAbsolutePath().normalize();
    this.logDir = dataDir.resolve("logs");
    this.shutdownHook = new Thread(this::closeFromHook, "fleet-shutdown");
    this.pids = new PidFile(dataDir, CHILD_STOP_SECONDS);
  }

  /** The running children by name, for the pid file. */
  private Map<String, ProcessHandle> children() {
    Map<String, ProcessHandle> byName = new LinkedHashMap<>();
    synchronized (lock) {
      for (Child child : children) {
        byName.put(child.name(), child.process().toHandle());
      }
    }
    return byName;
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
    rotate(stackLog);
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
    watchPostgres();
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
    Child gateway = spawn("gateway", gatewayJar, gatewayArgs, "FLEET_GATEWAY_OPTS", gatewayPort);
    Child worker = spawn("worker", workerJar, workerArgs, "FLEET_WORKER_OPTS", workerPort);
    pids.write(children());

    Instant deadline = Instant.now().plus(options.readyTimeout());
    HealthProbe probe = new HealthProbe(Duration.ofSeconds(2));
    for (Child child : List.of(gateway, worker)) {
      awaitReady(child, probe, deadline);
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
    List<Child> current;
    synchronized (lock) {
      current = List.copyOf(children);
    }
    for (Child child : current) {
      child
          .process()
          .onExit()
          .thenAccept(
              p -> {
                if (!closing) {
                  listener.accept(exitMessage(child, "exited"));
                }
              });
    }
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
        stopChildren();
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

  private Child spawn(String name, Path jar, List<String> jvmArgs, String optsEnv, int port)
      throws IOException {
    Path log = logDir.resolve(name + ".log");
    rotate(log);
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
    Files.writeString(
        log,
        "# " + Instant.now() + " " + String.join(" ", command) + System.lineSeparator(),
        StandardCharsets.UTF_8);
    synchronized (lock) {
      if (closing) {
        throw new Stopped();
      }
      Child child = new Child(name, start(command, log), log, port, List.copyOf(command));
      children.add(child);
      return child;
    }
  }

  private Process start(List<String> command, Path log) throws IOException {
    return new ProcessBuilder(command)
        .directory(options.root().toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
        .start();
  }

  // --- the supervisor ---------------------------------------------------------------------------

  /** Hears of exits and restarts once {@link #supervise} was called. */
  private volatile Consumer<String> supervisor;

  /**
   * From now on, a child that exits on its own (a crash, kill -9) is started again with the same
   * command after a back-off ({@link RestartBackoff#DEFAULT}: 1 s, doubling per crash in a row up
   * to 30 s; back to 1 s once it ran a minute), rather than the fleet stopping; {@code events}
   * hears of each exit and restart.
   */
  public void supervise(Consumer<String> events) {
    supervisor = Objects.requireNonNull(events, "events");
    List<Child> current;
    synchronized (lock) {
      current = List.copyOf(children);
    }
    for (Child child : current) {
      watch(child, 0);
    }
  }

  private void watch(Child child, int crashesInARow) {
    Instant started = Instant.now();
    child
        .process()
        .onExit()
        .thenAccept(
            p -> {
              if (closing) {
                return;
              }
              Thread.ofVirtual()
                  .name("fleet-restart-" + child.name())
                  .start(
                      () -> {
                        int crashes =
                            RestartBackoff.DEFAULT.crashesAfter(
                                Duration.between(started, Instant.now()), crashesInARow);
                        long wait = RestartBackoff.DEFAULT.waitBefore(crashes).toMillis();
                        supervisor.accept(
                            exitMessage(child, "exited")
                                + System.lineSeparator()
                                + String.format(
                                    Locale.ROOT,
                                    "fleet: restarting the %s in %.0f s",
                                    child.name(),
                                    wait / 1000.0));
                        sleepQuietly(wait);
                        restart(child, crashes);
                      });
            });
  }

  private void restart(Child old, int crashes) {
    synchronized (lock) {
      if (closing) {
        return;
      }
      try {
        Files.writeString(
            old.log(),
            "# " + Instant.now() + " restarted by the launcher" + System.lineSeparator(),
            StandardCharsets.UTF_8,
            java.nio.file.StandardOpenOption.APPEND);
        Child child =
            new Child(
                old.name(), start(old.command(), old.log()), old.log(), old.port(), old.command());
        children.set(children.indexOf(old), child);
        pids.write(children());
        supervisor.accept(
            "the " + child.name() + " started again (process " + child.process().pid() + ")");
        watch(child, crashes);
      } catch (IOException | RuntimeException e) {
        supervisor.accept("cannot restart the " + old.name() + ": " + e.getMessage());
      }
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * PostgreSQL runs as its own process (started through pg_ctl, so not this JVM's child): a small
   * shell watches this process and stops the server (SIGTERM, PostgreSQL's smart shutdown) once
   * this process is gone, so that a killed launcher leaves no server holding the port. After a
   * normal stop the server is gone already and the shell finds nothing to stop.
   */
  private void watchPostgres() {
    Path pidFile = dataDir.resolve("postgres").resolve("postmaster.pid");
    try {
      String pg = Files.readAllLines(pidFile, StandardCharsets.UTF_8).get(0).strip();
      if (!pg.matches("[0-9]+") || !Files.isExecutable(Path.of("/bin/sh"))) {
        return;
      }
      long me = ProcessHandle.current().pid();
      String script =
          "while kill -0 "
              + me
              + " 2>/dev/null; do sleep 1; done; "
              + "[ \"$(cat /proc/"
              + pg
              + "/comm 2>/dev/null)\" = postgres ] && kill -TERM "
              + pg;
      postgresWatch =
          new ProcessBuilder("/bin/sh", "-c", script)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
              .start();
    } catch (IOException | RuntimeException e) {
      // no watch: the next start on this data stops an orphaned server (EmbeddedPostgres)
    }
  }

  private Process postgresWatch;

  private void awaitReady(Child child, HealthProbe probe, Instant deadline) throws IOException {
    URI health = URI.create("http://localhost:" + child.port() + "/q/health/ready");
    while (true) {
      if (closing) {
        throw new Stopped();
      }
      if (!child.process().isAlive()) {
        throw new IOException(exitMessage(child, "exited before it was ready"));
      }
      if (probe.ready(health)) {
        return;
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IOException(
            "the "
                + child.name()
                + " was not ready after "
                + options.readyTimeout().toSeconds()
                + " s (GET "
                + health
                + "; FLEET_JAVA_OPTS=-D"
                + READY_TIMEOUT_PROPERTY
                + "=SECONDS waits longer); see "
                + display(child.log())
                + tail(child.log()));
      }
      sleep(200);
    }
  }

  private String exitMessage(Child child, String what) {
    Optional<Integer> status =
        child.process().isAlive() ? Optional.empty() : Optional.of(child.process().exitValue());
    return "the "
        + child.name()
        + " "
        + what
        + status.map(s -> " (exit status " + s + ")").orElse("")
        + "; see "
        + display(child.log())
        + tail(child.log());
  }

  private void stopChildren() {
    List<Child> current = List.copyOf(children);
    for (Child child : current) {
      child.process().destroy(); // SIGTERM: Quarkus stops gracefully
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CHILD_STOP_SECONDS);
    for (Child child : current) {
      Process p = child.process();
      try {
        long left = deadline - System.nanoTime();
        if (!p.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          options.status().println("fleet: the " + child.name() + " did not stop, killing it");
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static String javaBinary() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  private static java.io.File nullDevice() {
    return new java.io.File(
        System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("windows")
            ? "NUL"
            : "/dev/null");
  }

  /** Keeps the previous run's log as {@code NAME.log.1}. */
  private static void rotate(Path log) throws IOException {
    if (Files.exists(log)) {
      Files.move(
          log, log.resolveSibling(log.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * The end of a child's log, indented, to show with an error: its last lines without the frames of
   * stack traces, so that an exception shows as its chain of causes.
   */
  static String tail(Path log) {
    try {
      List<String> lines = new ArrayList<>();
      for (String line :
          Files.readAllLines(log, StandardCharsets.UTF_8).stream().skip(1).toList()) {
        String t = line.strip();
        if (t.isEmpty() || t.startsWith("at ") || (t.startsWith("... ") && t.endsWith(" more"))) {
          continue;
        }
        lines.add(line.length() > 300 ? line.substring(0, 300) + "..." : line);
      }
      List<String> last = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      if (last.isEmpty()) {
        return "";
      }
      StringBuilder b = new StringBuilder(":");
      for (String line : last) {
        b.append(System.lineSeparator()).append("  | ").append(line);
      }
      return b.toString();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  /**
   * A failure as the user should read it: its message, then one {@code because:} line per distinct
   * cause or suppressed failure (the stack's services start in parallel and may fail together).
   */
  public static String describe(Throwable failure) {
    StringBuilder b = new StringBuilder(String.valueOf(failure.getMessage()));
    Set<String> seen = new LinkedHashSet<>();
    seen.add(String.valueOf(failure.getMessage()));
    ArrayDeque<Throwable> todo = new ArrayDeque<>();
    if (failure.getCause() != null) {
      todo.add(failure.getCause());
    }
    Collections.addAll(todo, failure.getSuppressed());
    while (!todo.isEmpty() && seen.size() < 12) {
      Throwable t = todo.poll();
      String m = t.getMessage() != null ? t.getMessage() : t.toString();
      if (seen.add(m)) {
        b.append(System.lineSeparator()).append("  because: ").append(m);
      }
      if (t.getCause() != null && t.getCause() != t) {
        todo.add(t.getCause());
      }
      Collections.addAll(todo, t.getSuppressed());
    }
    return b.toString();
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

  private static void sleep(long millis) throws IOException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the fleet", e);
    }
  }
}
