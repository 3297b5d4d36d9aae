package dev.fleet.model.process;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ParentWatchTest {
  @Test
  void theCallbackRunsOnceTheWatchedProcessIsKilled() throws Exception {
    Process parent = new ProcessBuilder("sleep", "60").start();
    CountDownLatch gone = new CountDownLatch(1);
    assertTrue(ParentWatch.start(parent.pid(), gone::countDown));
    assertFalse(gone.await(700, TimeUnit.MILLISECONDS), "not while it runs");
    parent.destroyForcibly(); // SIGKILL
    assertTrue(gone.await(5, TimeUnit.SECONDS), "the watch saw it go");
  }

  @Test
  void aProcessThatIsNotRunningIsNotWatched() throws Exception {
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    assertFalse(ParentWatch.start(p.pid(), () -> {}));
  }

  @Test
  void theLauncherPropertyDecidesWhetherAWatchStarts() throws Exception {
    String before = System.getProperty(ParentWatch.PROPERTY);
    try {
      System.clearProperty(ParentWatch.PROPERTY);
      assertFalse(ParentWatch.startIfAsked("test"), "no launcher, no watch");
      // This test's own JVM stays alive for the rest of the run: a watch starts, and never fires.
      System.setProperty(ParentWatch.PROPERTY, Long.toString(ProcessHandle.current().pid()));
      assertTrue(ParentWatch.startIfAsked("test"));
      Process gone = new ProcessBuilder("true").start();
      gone.waitFor();
      System.setProperty(ParentWatch.PROPERTY, Long.toString(gone.pid()));
      assertFalse(ParentWatch.startIfAsked("test"), "a launcher that is gone already");
    } finally {
      if (before == null) {
        System.clearProperty(ParentWatch.PROPERTY);
      } else {
        System.setProperty(ParentWatch.PROPERTY, before);
      }
    }
  }
}
