package dev.fleet.model.job;

import static dev.fleet.model.job.JobState.CANCELLED;
import static dev.fleet.model.job.JobState.FAILED;
import static dev.fleet.model.job.JobState.QUEUED;
import static dev.fleet.model.job.JobState.RUNNING;
import static dev.fleet.model.job.JobState.SUCCEEDED;
import static dev.fleet.model.job.JobState.TIMED_OUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import org.junit.jupiter.api.Test;

class JobStateTest {

  @Test
  void terminalStatesHaveNoWayOut() {
    for (JobState s : JobState.values()) {
      assertEquals(s.next().isEmpty(), s.terminal(), s.name());
    }
    assertEquals(EnumSet.of(QUEUED, RUNNING), JobState.active());
  }

  @Test
  void theLifeOfAJob() {
    assertTrue(QUEUED.canMoveTo(RUNNING));
    assertTrue(RUNNING.canMoveTo(SUCCEEDED));
    assertTrue(RUNNING.canMoveTo(QUEUED), "a crash or transient fault re-queues");
    assertTrue(QUEUED.canMoveTo(CANCELLED), "a queued job is cancelled at once");
    assertTrue(RUNNING.canMoveTo(CANCELLED));
    assertTrue(RUNNING.canMoveTo(TIMED_OUT));
    assertTrue(QUEUED.canMoveTo(FAILED), "the retry limit fails a job without running it");
  }

  @Test
  void nothingMovesBackwardsOrFinishesTwice() {
    assertFalse(QUEUED.canMoveTo(SUCCEEDED), "only a running job succeeds");
    assertFalse(QUEUED.canMoveTo(QUEUED));
    assertFalse(RUNNING.canMoveTo(RUNNING));
    for (JobState end : EnumSet.of(SUCCEEDED, FAILED, CANCELLED, TIMED_OUT)) {
      for (JobState any : JobState.values()) {
        assertFalse(end.canMoveTo(any), end + " -> " + any);
      }
    }
  }
}
