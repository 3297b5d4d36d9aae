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
}
