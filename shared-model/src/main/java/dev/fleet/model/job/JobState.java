package dev.fleet.model.job;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where a job is in its life. {@code QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED |
 * TIMED_OUT}; a worker crash or a transient fault sends a running job back to {@code QUEUED}. The
 * terminal states have no way out: {@code JobStore} enforces the same table in SQL.
 */
public enum JobState {
  QUEUED,
  RUNNING,
  SUCCEEDED,
  FAILED,
  CANCELLED,
  TIMED_OUT;

  /** True for the states a job never leaves. */
  public boolean terminal() {
    return this != QUEUED && this != RUNNING;
  }

  /** The states this one may move to; empty for a terminal state. */
  public Set<JobState> next() {
    return switch (this) {
      // A queued job can be cancelled or time out before any worker takes it, or be failed
      // without running (the retry limit, a message no worker can serve).
      case QUEUED -> EnumSet.of(RUNNING, FAILED, CANCELLED, TIMED_OUT);
      case RUNNING -> EnumSet.of(QUEUED, SUCCEEDED, FAILED, CANCELLED, TIMED_OUT);
      case SUCCEEDED, FAILED, CANCELLED, TIMED_OUT -> EnumSet.noneOf(JobState.class);
    };
  }

  public boolean canMoveTo(JobState target) {
    return next().contains(target);
  }

  /** The non-terminal states, the only ones a transition may start from. */
  public static Set<JobState> active() {
    return EnumSet.of(QUEUED, RUNNING);
  }
}
