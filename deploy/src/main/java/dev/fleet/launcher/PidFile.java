package dev.fleet.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code <data>/fleet.pids}: the processes of the fleet running on a data directory, one {@code
 * NAME PID START-MILLIS} line each, the launcher first. A launcher that was killed leaves it
 * behind; the next one on the same data stops the children it names (and refuses to start while
 * that launcher still runs). The start time tells a live process from a reused pid.
 */
final class PidFile {
  static final String NAME = "fleet.pids";

  private final Path file;
  private final int stopSeconds;

  /**
   * @param stopSeconds how long an orphan gets to exit after SIGTERM before it is killed
   */
  PidFile(Path dataDir, int stopSeconds) {
    this.file = dataDir.resolve(NAME);
    this.stopSeconds = stopSeconds;
  }

  /** Records the launcher (this process) and {@code children} by name. */
  void write(Map<String, ProcessHandle> children) throws IOException {
    StringBuilder b = new StringBuilder();
    line(b, "launcher", ProcessHandle.current());
    children.forEach((name, p) -> line(b, name, p));
    Files.writeString(file, b.toString(), StandardCharsets.UTF_8);
  }

  private static void line(StringBuilder b, String name, ProcessHandle p) {
    long start = p.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    b.append(name).append(' ').append(p.pid()).append(' ').append(start).append('\n');
  }

  /** Removes the file (a clean stop). */
  void delete() {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // harmless: the next start checks the processes it names
    }
  }

  /**
   * Stops the children an earlier, killed launcher left running (they may hold the ports), telling
   * {@code status} about each.
   *
   * @throws IOException when the launcher the file names still runs: a second fleet on the same
   *     data is refused
   */
  void stopOrphans(Consumer<String> status) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    Path dataDir = file.getParent();
    List<ProcessHandle> orphans = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String[] f = line.trim().split(" ");
      if (f.length != 3) {
        continue;
      }
      Optional<ProcessHandle> live = live(f[1], f[2]);
      if (live.isEmpty()) {
        continue;
      }
      if (f[0].equals("launcher")) {
        if (live.get().pid() != ProcessHandle.current().pid()) {
          throw new IOException(
              "another fleet (process "
                  + f[1]
                  + ") is running on "
                  + dataDir
                  + "; stop it first (Ctrl-C, or kill "
                  + f[1]
                  + ")");
        }
      } else {
        orphans.add(live.get());
      }
    }
    for (ProcessHandle p : orphans) {
      status.accept(
          "stopping process " + p.pid() + ", left running by an earlier fleet that was killed");
      p.destroy();
    }
    for (ProcessHandle p : orphans) {
      try {
        p.onExit().get(stopSeconds, TimeUnit.SECONDS);
      } catch (Exception e) {
        p.destroyForcibly();
      }
    }
    Files.deleteIfExists(file);
  }

  /** The process {@code pid} if it runs and started when recorded (not a reused pid). */
  private static Optional<ProcessHandle> live(String pid, String startMillis) {
    try {
      long start = Long.parseLong(startMillis);
      return ProcessHandle.of(Long.parseLong(pid))
          .filter(ProcessHandle::isAlive)
          .filter(
              p ->
                  start == 0
                      || p.info()
                          .startInstant()
                          .map(i -> Math.abs(i.toEpochMilli() - start) < 2000)
                          .orElse(false));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }
}
