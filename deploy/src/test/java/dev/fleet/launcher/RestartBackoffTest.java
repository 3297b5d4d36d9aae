package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The launcher's restart back-off: doubling per crash in a row, capped, reset by a stable run. */
class RestartBackoffTest {
  private final RestartBackoff b = RestartBackoff.DEFAULT;

  @Test
  void waitsDoubleUpToTheCap() {
    assertEquals(Duration.ofSeconds(1), b.waitBefore(1));
    assertEquals(Duration.ofSeconds(2), b.waitBefore(2));
    assertEquals(Duration.ofSeconds(16), b.waitBefore(5));
    assertEquals(Duration.ofSeconds(30), b.waitBefore(6));
    assertEquals(Duration.ofSeconds(30), b.waitBefore(1000), "no overflow for long crash loops");
  }

  @Test
  void aStableRunStartsTheCountOver() {
    assertEquals(3, b.crashesAfter(Duration.ofSeconds(5), 2), "a quick crash counts on");
    assertEquals(1, b.crashesAfter(Duration.ofSeconds(60), 7), "a minute's run starts over");
  }
}
