package dev.fleet.engine.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceLedgerTest {

  @Test
  void booksReleasesAndTracksThePeak() {
    DeviceLedger ledger = new DeviceLedger(1000);
    DeviceLedger.Booking a = ledger.reserve(600, "weights");
    try (DeviceLedger.Booking b = ledger.reserve(400, "activations")) {
      assertEquals(1000, ledger.inUseBytes());
      assertEquals(0, ledger.availableBytes());
      assertEquals(List.of("weights (600 B)", "activations (400 B)"), ledger.liveBookings());
    }
    assertEquals(600, ledger.inUseBytes());
    assertEquals(1000, ledger.peakBytes());
    assertEquals(List.of("weights (600 B)", "activations (400 B)"), ledger.bookingsAtPeak());
    ledger.resetPeak();
    assertEquals(600, ledger.peakBytes());
    a.close();
    a.close(); // twice is harmless
    assertEquals(0, ledger.inUseBytes());
    assertTrue(ledger.liveBookings().isEmpty());
  }

  @Test
  void aBookingBeyondTheBudgetIsRefusedWithTheNumbers() {
    DeviceLedger ledger = new DeviceLedger(3L << 30);
    ledger.reserve(2L << 30, "dit resident");
    BudgetExceededException e =
        assertThrows(
            BudgetExceededException.class,
            () -> ledger.reserve(1536L << 20, "double_blocks.7 streamed"));
    assertEquals("double_blocks.7 streamed", e.what());
    assertEquals(1536L << 20, e.requestedBytes());
    assertEquals(2L << 30, e.inUseBytes());
    assertEquals(3L << 30, e.budgetBytes());
    assertEquals(
        "device budget exceeded: double_blocks.7 streamed needs 1.5 GiB but 2.0 GiB of 3.0 GiB are"
            + " booked (1.0 GiB free)",
        e.getMessage());
    assertEquals(2L << 30, ledger.inUseBytes(), "a refused booking books nothing");
    assertEquals(2L << 30, ledger.peakBytes());
    assertThrows(IllegalArgumentException.class, () -> ledger.reserve(-1, "negative"));
    assertThrows(IllegalArgumentException.class, () -> new DeviceLedger(0));
  }

  @Test
  void arraysAreBookedByTheirByteSize() {
    try (NDManager m = NDManager.newBaseManager()) {
      var a = m.zeros(new Shape(3, 4), DataType.FLOAT16);
      var b = m.zeros(new Shape(5), DataType.UINT8);
      assertEquals(24, DeviceLedger.bytesOf(a));
      DeviceLedger ledger = DeviceLedger.unlimited();
      try (DeviceLedger.Booking booking = ledger.reserve(List.of(a, b), "two")) {
        assertEquals(29, booking.bytes());
      }
      assertEquals(29, DeviceLedger.bytesOf(m));
      assertEquals("unlimited", DeviceLedger.format(ledger.budgetBytes()));
    }
  }

  @Test
  void memoryFailuresAreRecognised() {
    assertTrue(MemoryFailure.isMemoryFailure(new BudgetExceededException("x", 2, 1, 2)));
    assertTrue(
        MemoryFailure.isMemoryFailure(
            new RuntimeException(
                "wrapped", new EngineException("CUDA out of memory. Tried to allocate 2 GiB"))));
    assertTrue(MemoryFailure.isMemoryFailure(new EngineException("CUDA error: out of memory")));
    assertTrue(!MemoryFailure.isMemoryFailure(new EngineException("CUDA error: illegal address")));
    assertTrue(!MemoryFailure.isMemoryFailure(new IllegalStateException("out of memory")));
  }
}
