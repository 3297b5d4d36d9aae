package dev.fleet.engine.memory;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The executor's account of device memory: every allocation it makes (resident weights, streamed
 * blocks, activations, latents) is booked here before it is made and released when it is freed. A
 * booking that would exceed the budget is refused with a {@link BudgetExceededException} before
 * anything is allocated, so a plan that does not fit fails early and cleanly instead of with the
 * device's own out-of-memory error. On CPU the same ledger runs against a virtual budget.
 *
 * <p>Thread-safe: a prefetching block source books from its copy thread.
 */
public final class DeviceLedger {
  private final long budgetBytes;
  private final Map<Booking, Boolean> live = new LinkedHashMap<>();
  private long inUse;
  private long peak;
  private List<String> atPeak = List.of();

  /**
   * @param budgetBytes the most bytes that may be booked at once
   */
  public DeviceLedger(long budgetBytes) {
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("ledger budget must be positive, got " + budgetBytes);
    }
    this.budgetBytes = budgetBytes;
  }

  /** A ledger that refuses nothing but still tracks use and peak. */
  public static DeviceLedger unlimited() {
    return new DeviceLedger(Long.MAX_VALUE);
  }

  /**
   * Books {@code bytes} for {@code what}.
   *
   * @throws BudgetExceededException when the booking would take the total over the budget; nothing
   *     is booked then
   */
  public synchronized Booking reserve(long bytes, String what) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cannot book " + bytes + " bytes for " + what);
    }
    if (bytes > budgetBytes - inUse) {
      throw new BudgetExceededException(what, bytes, inUse, budgetBytes);
    }
    Booking b = new Booking(bytes, what);
    live.put(b, Boolean.TRUE);
    inUse += bytes;
    if (inUse > peak) {
      peak = inUse;
      atPeak = describe(live.keySet());
    }
    return b;
  }

  /** Books the byte size of arrays that exist already (or are about to, with these shapes). */
  public Booking reserve(Collection<NDArray> arrays, String what) {
    return reserve(bytesOf(arrays), what);
  }

  private synchronized void release(Booking b) {
    if (live.remove(b) != null) {
      inUse -= b.bytes;
    }
  }

  public long budgetBytes() {
    return budgetBytes;
  }

  public synchronized long inUseBytes() {
    return inUse;
  }

  public synchronized long availableBytes() {
    return budgetBytes - inUse;
  }

  /** The most bytes booked at once since creation or the last {@link #resetPeak}. */
  public synchronized long peakBytes() {
    return peak;
  }

  /** What was booked when the peak was reached, one {@code "what (bytes)"} line per booking. */
  public synchronized List<String> bookingsAtPeak() {
    return atPeak;
  }

  /** Starts a new peak measurement from what is booked now. */
  public synchronized void resetPeak() {
    peak = inUse;
    atPeak = describe(live.keySet());
  }

  /** Live bookings, one {@code "what (bytes)"} line each: after a job, only resident weights. */
  public synchronized List<String> liveBookings() {
    return describe(live.keySet());
  }

  private static List<String> describe(Collection<Booking> bookings) {
    List<String> out = new ArrayList<>(bookings.size());
    for (Booking b : bookings) {
      out.add(b.what + " (" + format(b.bytes) + ")");
    }
    return List.copyOf(out);
  }

  /** Bytes of an array's elements as the device holds them. */
  public static long bytesOf(NDArray a) {
    return a.getShape().size() * a.getDataType().getNumOfBytes();
  }

  public static long bytesOf(Collection<NDArray> arrays) {
    long n = 0;
    for (NDArray a : arrays) {
      n += bytesOf(a);
    }
    return n;
  }

  /** Bytes of every array a manager and its sub-managers hold. */
  public static long bytesOf(NDManager manager) {
    return bytesOf(manager.getManagedArrays());
  }

  /** Human-readable bytes (binary units). */
  public static String format(long bytes) {
    if (bytes == Long.MAX_VALUE) {
      return "unlimited";
    }
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  @Override
  public synchronized String toString() {
    return "DeviceLedger["
        + format(inUse)
        + " of "
        + format(budgetBytes)
        + ", peak "
        + format(peak)
        + "]";
  }

  /**
   * Books {@code bytes} for {@code what} and opens a child scope of {@code parent} for the arrays
   * they are for, both released when the returned scope closes.
   *
   * @throws BudgetExceededException when the booking would take the total over the budget
   */
  public BookedScope scope(NDManager parent, long bytes, String what) {
    return BookedScope.open(this, parent, null, bytes, what);
  }

  /** As {@link #scope(NDManager, long, String)}, the scope on {@code device}. */
  public BookedScope scope(NDManager parent, Device device, long bytes, String what) {
    return BookedScope.open(this, parent, device, bytes, what);
  }

  /** One booking; closing it releases the bytes (closing twice is harmless). */
  public final class Booking implements AutoCloseable {
    private final long bytes;
    private final String what;

    private Booking(long bytes, String what) {
      this.bytes = bytes;
      this.what = what;
    }

    public long bytes() {
      return bytes;
    }

    public String what() {
      return what;
    }

    @Override
    public void close() {
      release(this);
    }
  }
}
