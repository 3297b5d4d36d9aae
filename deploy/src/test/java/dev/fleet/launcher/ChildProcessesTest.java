package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local fleet's child processes: logs, readiness, restarts after a crash, and the stop. */
class ChildProcessesTest {
  @TempDir Path dir;

  private final AtomicBoolean closing = new AtomicBoolean();

  private ChildProcesses processes() {
    return new ChildProcesses(dir, new PidFile(dir, 1), closing::get);
  }

  private static List<String> sh(String script) {
    return List.of("/bin/sh", "-c", script);
  }

  @Test
  void aChildThatExitsBeforeItIsReadyFailsWithItsStatusAndLog() throws IOException {
    ChildProcesses p = processes();
    Path log = dir.resolve("gateway.log");
    Files.writeString(log, "the previous run\n");
    ChildProcesses.Child child = p.spawn("gateway", sh("echo it broke; exit 3"), log, 1);
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                p.awaitReady(
                    child,
                    new HealthProbe(Duration.ofMillis(100)),
                    Instant.now().plusSeconds(20),
                    Duration.ofSeconds(20)));
    assertTrue(e.getMessage().contains("the gateway exited before it was ready"), e.getMessage());
    assertTrue(e.getMessage().contains("exit status 3"), e.getMessage());
    assertTrue(e.getMessage().contains("  | it broke"), e.getMessage());
    assertEquals(
        "the previous run\n",
        Files.readString(dir.resolve("gateway.log.1"), StandardCharsets.UTF_8),
        "the previous log is kept as .1");
    assertTrue(Files.readString(log).startsWith("# "), "the log opens with the command");
  }

  @Test
  void aCrashedChildIsStartedAgainAndTheStopEndsIt() throws Exception {
    ChildProcesses p = processes();
    Path marker = dir.resolve("runs");
    // The first run crashes at once; the restarted one stays up.
    String script =
        "echo run >> " + marker + "; [ $(wc -l < " + marker + ") -gt 1 ] && exec sleep 60";
    ChildProcesses.Child child = p.spawn("worker", sh(script), dir.resolve("worker.log"), 1);
    p.writePids();
    String pids = Files.readString(dir.resolve("fleet.pids"));
    assertTrue(pids.contains("worker"), pids);
    LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
    p.supervise(events::add);
    String exited = events.poll(20, TimeUnit.SECONDS);
    assertTrue(exited != null && exited.contains("the worker exited"), String.valueOf(exited));
    String restarted = events.poll(20, TimeUnit.SECONDS);
    assertTrue(
        restarted != null && restarted.contains("the worker started again"),
        String.valueOf(restarted));
    assertFalse(child.process().isAlive());

    closing.set(true);
    ByteArrayOutputStream status = new ByteArrayOutputStream();
    p.stopAll(new PrintStream(status, true, StandardCharsets.UTF_8));
    assertEquals(2, Files.readAllLines(marker).size(), "started twice, no third time");
    assertTrue(events.poll(2, TimeUnit.SECONDS) == null, "no restart while stopping");
  }

  @Test
  void nothingStartsWhileTheFleetStops() {
    closing.set(true);
    assertThrows(
        LocalFleet.Stopped.class,
        () -> processes().spawn("gateway", sh("true"), dir.resolve("g.log"), 1));
  }
}
