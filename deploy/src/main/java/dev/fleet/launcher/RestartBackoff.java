package dev.fleet.launcher;

import java.time.Duration;

/**
 * When the launcher starts a crashed child again: after {@code first}, doubling with each crash in
 * a row up to {@code max}; a child that ran at least {@code stableAfter} before it exited counts as
 * a first crash again.
 */
record RestartBackoff(Duration first, Duration max, Duration stableAfter) {

  /** 1 s, doubling up to 30 s; back to 1 s once a child ran a minute. */
  static final RestartBackoff DEFAULT =
      new RestartBackoff(Duration.ofSeconds(1), Duration.ofSeconds(30), Duration.ofSeconds(60));

  /** Crashes in a row, counting this exit, of a child that ran {@code ran} this time. */
  int crashesAfter(Duration ran, int crashesBefore) {
    return ran.compareTo(stableAfter) >= 0 ? 1 : crashesBefore + 1;
  }

  /** The wait before the restart that follows {@code crashes} crashes in a row (at least 1). */
  Duration waitBefore(int crashes) {
    long millis = first.toMillis() << Math.min(20, Math.max(0, crashes - 1));
    return Duration.ofMillis(Math.min(max.toMillis(), millis));
  }
}
