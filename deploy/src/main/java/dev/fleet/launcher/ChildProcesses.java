package dev.fleet.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The local fleet's child JVMs (the gateway and the worker): started with their output in a log of
 * their own, waited for until ready, restarted with back-off when they exit on their own once
 * {@link #supervise} was called, and stopped (SIGTERM, then SIGKILL after {@value #STOP_SECONDS}
 * s). Their process ids are kept in the {@link PidFile}, so that the next start on the same data
 * directory can stop orphans of a launcher that was killed.
 */
final class ChildProcesses {
  static final int STOP_SECONDS = 10;
  private static final int LOG_TAIL_LINES = 12;

  /** One started child JVM, and the command that started it (for a restart). */
  record Child(String name, Process process, Path log, int port, List<String> command) {}

  private final Path workingDirectory;
  private final PidFile pids;
  private final BooleanSupplier closing;
  private final List<Child> children = new ArrayList<>();

  /** Hears of exits and restarts once {@link #supervise} was called. */
  private volatile Consumer<String> supervisor;

  /**
   * @param workingDirectory where the children run (the checkout)
   * @param pids where their process ids are kept
   * @param closing whether the fleet is stopping: no child starts or restarts then
   */
  ChildProcesses(Path workingDirectory, PidFile pids, BooleanSupplier closing) {
    this.workingDirectory = workingDirectory;
    this.pids = pids;
    this.closing = closing;
  }

  /**
   * Starts {@code command} as the child {@code name}, its output appended to {@code log} (the
   * previous run's kept as {@code NAME.log.1}) after a line with the command.
   *
   * @throws LocalFleet.Stopped when the fleet is stopping
   */
  Child spawn(String name, List<String> command, Path log, int port) throws IOException {
    rotate(log);
    Files.writeString(
        log,
        "# " + Instant.now() + " " + String.join(" ", command) + System.lineSeparator(),
        StandardCharsets.UTF_8);
    synchronized (children) {
      if (closing.getAsBoolean()) {
        throw new LocalFleet.Stopped();
      }
      Child child = new Child(name, start(command, log), log, port, List.copyOf(command));
      children.add(child);
      return child;
    }
  }

  private Process start(List<String> command, Path log) throws IOException {
    return new ProcessBuilder(command)
        .directory(workingDirectory.toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
        .start();
  }

  /** Writes the running children's process ids to the pid file. */
  void writePids() throws IOException {
    Map<String, ProcessHandle> byName = new LinkedHashMap<>();
    synchronized (children) {
      for (Child child : children) {
        byName.put(child.name(), child.process().toHandle());
      }
    }
    pids.write(byName);
  }

  private List<Child> current() {
    synchronized (children) {
      return List.copyOf(children);
    }
  }

  /**
   * Waits until {@code child} answers {@code /q/health/ready}.
   *
   * @param timeout what the deadline came from, for the message when it passes
   * @throws IOException when the child exits first or is not ready by {@code deadline}
   * @throws LocalFleet.Stopped when the fleet is stopping meanwhile
   */
  void awaitReady(Child child, HealthProbe probe, Instant deadline, Duration timeout)
      throws IOException {
    URI health = URI.create("http://localhost:" + child.port() + "/q/health/ready");
    while (true) {
      if (closing.getAsBoolean()) {
        throw new LocalFleet.Stopped();
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
                + timeout.toSeconds()
                + " s (GET "
                + health
                + "; FLEET_JAVA_OPTS=-D"
                + LocalFleet.READY_TIMEOUT_PROPERTY
                + "=SECONDS waits longer); see "
                + LocalFleet.display(child.log())
                + tail(child.log()));
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the fleet", e);
      }
    }
  }

  /**
   * Calls {@code listener} with a message when a child exits on its own (not while the fleet
   * stops), once per child.
   */
  void onUnexpectedExit(Consumer<String> listener) {
    for (Child child : current()) {
      child
          .process()
          .onExit()
          .thenAccept(
              p -> {
                if (!closing.getAsBoolean()) {
                  listener.accept(exitMessage(child, "exited"));
                }
              });
    }
  }

  /**
   * From now on, a child that exits on its own (a crash, kill -9) is started again with the same
   * command after a back-off ({@link RestartBackoff#DEFAULT}), rather than the fleet stopping;
   * {@code events} hears of each exit and restart.
   */
  void supervise(Consumer<String> events) {
    supervisor = Objects.requireNonNull(events, "events");
    for (Child child : current()) {
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
              if (closing.getAsBoolean()) {
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
    synchronized (children) {
      if (closing.getAsBoolean()) {
        return;
      }
      try {
        Files.writeString(
            old.log(),
            "# " + Instant.now() + " restarted by the launcher" + System.lineSeparator(),
            StandardCharsets.UTF_8,
            StandardOpenOption.APPEND);
        Child child =
            new Child(
                old.name(), start(old.command(), old.log()), old.log(), old.port(), old.command());
        children.set(children.indexOf(old), child);
        writePids();
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
   * Stops every child: SIGTERM (Quarkus stops gracefully), SIGKILL for those still running after
   * {@value #STOP_SECONDS} s, told on {@code status}.
   */
  void stopAll(PrintStream status) {
    List<Child> current = current();
    for (Child child : current) {
      child.process().destroy();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STOP_SECONDS);
    for (Child child : current) {
      Process p = child.process();
      try {
        long left = deadline - System.nanoTime();
        if (!p.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          status.println("fleet: the " + child.name() + " did not stop, killing it");
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
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
        + LocalFleet.display(child.log())
        + tail(child.log());
  }

  static java.io.File nullDevice() {
    return new java.io.File(
        System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("windows")
            ? "NUL"
            : "/dev/null");
  }

  /** Keeps the previous run's log as {@code NAME.log.1}. */
  static void rotate(Path log) throws IOException {
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
}
