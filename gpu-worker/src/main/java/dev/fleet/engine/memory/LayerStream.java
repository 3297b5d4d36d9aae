package dev.fleet.engine.memory;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A model's layers kept in host memory and copied to the device one at a time, in order, for their
 * call: the copy of the next streamed layer is begun while the current one computes (a one-layer
 * prefetch), so that an asynchronous {@link HostToDevice} overlaps it with the compute; the
 * synchronous default simply copies it early. Every copy is booked in the {@link DeviceLedger}
 * before it is begun, and a prefetch that the budget cannot hold is skipped, not an error: the
 * layer is then copied when its turn comes. So at most two streamed layers are on the device at
 * once. Shared by the DiT's streamed blocks and the streamed T5 encoder.
 */
public final class LayerStream {
  private final List<HostLayer> layers;
  private final Device device;
  private final DeviceLedger ledger;
  private final HostToDevice hostToDevice;
  private final AtomicLong bytesCopied = new AtomicLong();
  private final AtomicLong prefetchesSkipped = new AtomicLong();
  private Copy pending;

  /**
   * One streamed layer in host memory.
   *
   * @param name for the ledger's bookings (e.g. {@code double_blocks.7})
   * @param keys the parameter key of each array, in order
   * @param arrays the host copies, as {@link HostToDevice#keepOnHost} made them
   * @param bytes device bytes of the copies (booked per copy)
   */
  public record HostLayer(String name, List<String> keys, NDList arrays, long bytes) {
    public HostLayer {
      keys = List.copyOf(keys);
      if (keys.size() != arrays.size()) {
        throw new IllegalArgumentException(
            name + ": " + keys.size() + " keys for " + arrays.size() + " arrays");
      }
      if (bytes < 0) {
        throw new IllegalArgumentException(name + ": negative size " + bytes);
      }
    }

    /** {@code copies} (on the device, in the order of {@link #keys}) by key. */
    public Map<String, NDArray> byKey(NDList copies) {
      Map<String, NDArray> out = new HashMap<>();
      for (int i = 0; i < keys.size(); i++) {
        out.put(keys.get(i), copies.get(i));
      }
      return out;
    }
  }

  /**
   * @param layers every layer of the forward pass in call order, null for one that is not streamed
   *     (resident layers keep their positions so that a prefetch skips past them)
   * @param device where the copies go
   */
  public LayerStream(
      List<HostLayer> layers, Device device, DeviceLedger ledger, HostToDevice hostToDevice) {
    this.layers = Collections.unmodifiableList(new ArrayList<>(layers));
    this.device = device;
    this.ledger = ledger;
    this.hostToDevice = hostToDevice;
  }

  /** True when the layer at {@code position} is streamed. */
  public boolean streamed(int position) {
    return layers.get(position) != null;
  }

  /** The streamed layer at {@code position}. */
  public HostLayer layer(int position) {
    HostLayer l = layers.get(position);
    if (l == null) {
      throw new IllegalArgumentException("layer " + position + " is not streamed");
    }
    return l;
  }

  /**
   * The copy of the streamed layer at {@code position}: the prefetched one when it is that layer,
   * else a copy begun now (a prefetch of another layer is dropped). The caller closes it when the
   * layer's call is done.
   *
   * @throws BudgetExceededException when the budget cannot hold the layer
   */
  public Copy copy(int position) {
    Copy p = take(position);
    return p != null ? p : begin(position);
  }

  /** Begins the copy of the next streamed layer after {@code position}, if there is one. */
  public void prefetchAfter(int position) {
    int next = position + 1;
    while (next < layers.size() && layers.get(next) == null) {
      next++;
    }
    if (next >= layers.size()) {
      return;
    }
    synchronized (this) {
      if (pending != null) {
        if (pending.position == next) {
          return;
        }
        pending.discard();
        pending = null;
      }
      try {
        pending = begin(next);
      } catch (BudgetExceededException e) {
        // Two layers do not fit: the next one is copied when its turn comes.
        prefetchesSkipped.incrementAndGet();
      }
    }
  }

  /** Drops a prefetched copy that no call will claim (e.g. after a failed forward pass). */
  public synchronized void cancelPrefetch() {
    if (pending != null) {
      Copy p = pending;
      pending = null;
      p.discard();
    }
  }

  /** Bytes copied host to device per forward pass: every streamed layer once. */
  public long bytesPerPass() {
    return layers.stream().filter(l -> l != null).mapToLong(HostLayer::bytes).sum();
  }

  /** The largest streamed layer's bytes (what a prefetch adds to the peak). */
  public long largestBytes() {
    return layers.stream().filter(l -> l != null).mapToLong(HostLayer::bytes).max().orElse(0);
  }

  /** Bytes copied host to device so far. */
  public long bytesCopied() {
    return bytesCopied.get();
  }

  /** Prefetches skipped because the budget could not hold a second layer. */
  public long prefetchesSkipped() {
    return prefetchesSkipped.get();
  }

  /** Books and begins the copy of a streamed layer onto a manager of its own. */
  private Copy begin(int position) {
    HostLayer l = layer(position);
    DeviceLedger.Booking booking = ledger.reserve(l.bytes(), l.name() + " streamed");
    NDManager m = NDManager.newBaseManager(device);
    try {
      HostToDevice.Transfer t = hostToDevice.begin(l.arrays(), m);
      bytesCopied.addAndGet(l.bytes());
      return new Copy(position, m, t, booking);
    } catch (RuntimeException e) {
      m.close();
      booking.close();
      throw e;
    }
  }

  /** The prefetched copy of {@code position}, or null; a prefetch of another layer is dropped. */
  private synchronized Copy take(int position) {
    Copy p = pending;
    pending = null;
    if (p != null && p.position != position) {
      p.discard();
      return null;
    }
    return p;
  }

  /** A layer's copy on the device, booked until closed. */
  public static final class Copy implements AutoCloseable {
    private final int position;
    private final NDManager manager;
    private final HostToDevice.Transfer transfer;
    private final DeviceLedger.Booking booking;

    private Copy(
        int position,
        NDManager manager,
        HostToDevice.Transfer transfer,
        DeviceLedger.Booking booking) {
      this.position = position;
      this.manager = manager;
      this.transfer = transfer;
      this.booking = booking;
    }

    /** Blocks until the copies are on the device and returns them, in the layer's key order. */
    public NDList await() {
      return transfer.await();
    }

    /** Frees the copies and releases their booking (once awaited: it does not wait again). */
    @Override
    public void close() {
      try {
        manager.close();
      } finally {
        booking.close();
      }
    }

    private void discard() {
      try {
        transfer.await(); // never free memory a copy may still be writing
      } finally {
        close();
      }
    }
  }
}
