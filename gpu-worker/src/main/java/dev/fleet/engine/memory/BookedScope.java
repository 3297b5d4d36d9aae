package dev.fleet.engine.memory;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

/**
 * A native-memory scope and the ledger booking of what it will hold, opened as one and released as
 * one: the scope is a child of the caller's manager (so a leak check on the job's manager sees what
 * is left in it), and closing frees its arrays first, then the booking.
 */
public final class BookedScope implements AutoCloseable {
  private final DeviceLedger.Booking booking;
  private final NDManager manager;

  private BookedScope(DeviceLedger.Booking booking, NDManager manager) {
    this.booking = booking;
    this.manager = manager;
  }

  /**
   * Books {@code bytes} for {@code what}, then opens a child scope of {@code parent} on {@code
   * device} (the parent's device when null).
   *
   * @throws BudgetExceededException when the booking does not fit; nothing is opened then
   */
  static BookedScope open(
      DeviceLedger ledger, NDManager parent, Device device, long bytes, String what) {
    DeviceLedger.Booking booking = ledger.reserve(bytes, what);
    try {
      NDManager child = device == null ? parent.newSubManager() : parent.newSubManager(device);
      return new BookedScope(booking, child);
    } catch (RuntimeException e) {
      booking.close();
      throw e;
    }
  }

  /** The scope's manager: arrays made on it are freed with the scope. */
  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    try {
      manager.close();
    } finally {
      booking.close();
    }
  }
}
