package dev.fleet.model.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class CursorTest {

  @Test
  void roundTripsAtMicrosecondPrecision() {
    var c = new JobStore.Cursor(Instant.parse("2026-11-22T10:15:30.123456Z"), UUID.randomUUID());
    assertEquals(c, JobStore.Cursor.decode(c.encode()));
  }

  @Test
  void refusesWhatItDidNotMake() {
    assertThrows(IllegalArgumentException.class, () -> JobStore.Cursor.decode("not-a-cursor"));
    assertThrows(IllegalArgumentException.class, () -> JobStore.Cursor.decode("!!"));
  }
}
