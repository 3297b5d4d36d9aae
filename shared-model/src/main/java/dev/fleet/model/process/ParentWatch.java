package dev.fleet.model.process;

import java.time.Duration;
import java.util.Optional;

/**
 * Ends this process when the process that started it is gone: the gateway and the worker that
 * {@code ./fleet up} and {@code ./fleet run} start are given the launcher's pid ({@code
 * -Dlauncher.parent-pid}), so that they do not outlive it however it dies (SIGKILL included, which
 * runs no shutdown hook of the launcher's).
 */
public final class ParentWatch {
  public static final String PROPERTY = "launcher.parent-pid";
  static final Duration INTERVAL = Duration.ofMillis(500);

  /** How long {@link #exit} lets the shutdown hooks run before it halts. */
  static final Duration EXIT_GRACE = Duration.ofSeconds(15);

  private ParentWatch() {}

  /**
   * What the gateway and the worker do at start: if {@code -Dlauncher.parent-pid=PID} is set (a
   * plain system property, outside the {@code fleet.*} configuration, whose mappings refuse unknown
   * keys), exit ({@link #exit}) once that process is gone.
   *
   * @param who the process, in the message it leaves on stderr ("fleet worker")
   * @return whether a watch started
   */
  public static boolean startIfAsked(String who) {
    return Optional.ofNullable(Long.getLong(PROPERTY))
        .map(pid -> start(pid, exit(who, EXIT_GRACE)))
        .orElse(false);
  }

  /**
   * Watches {@code pid} on a daemon thread and runs {@code onGone} once it has exited; nothing if
   * it is not running now.
   *
   * @return whether the watch started
   */
  public static boolean start(long pid, Runnable onGone) {
    Optional<ProcessHandle> parent = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (parent.isEmpty()) {
      return false;
    }
    ProcessHandle p = parent.get();
    Thread t =
        new Thread(
            () -> {
              // onExit() works for non-children too (it polls), but a plain loop is simpler to
              // reason about and costs nothing.
              while (p.isAlive()) {
                try {
                  Thread.sleep(INTERVAL.toMillis());
                } catch (InterruptedException e) {
                  return;
                }
              }
              onGone.run();
            },
            "fleet-parent-watch");
    t.setDaemon(true);
    t.start();
    return true;
  }

  /**
   * The usual reaction: says so on stderr, exits with status 1 (shutdown hooks run), and halts if
   * that takes longer than {@code grace}.
   */
  public static Runnable exit(String who, Duration grace) {
    return () -> {
      System.err.println(who + ": the process that started it is gone; exiting");
      Thread halt =
          new Thread(
              () -> {
                try {
                  Thread.sleep(grace.toMillis());
                } catch (InterruptedException e) {
                  return;
                }
                Runtime.getRuntime().halt(1);
              },
              "fleet-parent-watch-halt");
      halt.setDaemon(true);
      halt.start();
      System.exit(1);
    };
  }
}
