package dev.fleet.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Stops the local stack's PostgreSQL when the launcher is gone, however it ended. */
final class PostgresWatch {
  private PostgresWatch() {}

  /**
   * Starts the watch of the server under {@code dataDir}, or returns null when there is none to
   * watch (or no shell). PostgreSQL runs as its own process (started through pg_ctl, so not this
   * JVM's child): a small shell watches this process and stops the server (SIGTERM, PostgreSQL's
   * smart shutdown) once this process is gone, so that a killed launcher leaves no server holding
   * the port. After a normal stop the server is gone already and the shell finds nothing to stop.
   */
  static Process start(Path dataDir) {
    Path pidFile = dataDir.resolve("postgres").resolve("postmaster.pid");
    try {
      String pg = Files.readAllLines(pidFile, StandardCharsets.UTF_8).get(0).strip();
      if (!pg.matches("[0-9]+") || !Files.isExecutable(Path.of("/bin/sh"))) {
        return null;
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
      return new ProcessBuilder("/bin/sh", "-c", script)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectInput(ProcessBuilder.Redirect.from(ChildProcesses.nullDevice()))
          .start();
    } catch (IOException | RuntimeException e) {
      // no watch: the next start on this data stops an orphaned server (EmbeddedPostgres)
      return null;
    }
  }
}
