package dev.fleet.engine.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.LayerStream;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.engine.weights.Weights;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A transformer's repeated blocks in their storage form, some on the device and the others in host
 * memory, copied to the device for their call and freed after it (through a {@link LayerStream}):
 * what a memory plan that keeps K of a DiT's N blocks resident runs on, whatever the model family
 * (FLUX's double and single blocks, the Next-DiT's refiner and joint blocks). A family names its
 * blocks in call order, each with how to build it from its parameters; this class owns where the
 * parameters live.
 *
 * <p>Every block is kept in its storage form: float8 weights as their raw bytes (UINT8, half of
 * float16 on the wire and in memory), everything else in the compute dtype. A 16- or 32-bit
 * checkpoint's block matrices can be narrowed to e4m3fn when loaded ({@link Float8#NARROW}), each
 * with a per-tensor scale ({@link Narrowing#e4m3fnScale}), so that a plan that stores blocks in
 * float8 runs on any checkpoint. Float8 bytes are widened on the device right before the block's
 * call, for resident and streamed blocks alike, so a resident float8 block costs one byte per
 * weight between calls. Every device allocation is booked in the {@link DeviceLedger}: resident
 * blocks for the store's lifetime, a streamed block's copy and any widened weights for its lease.
 *
 * <p>While block {@code i} is leased the copy of the next streamed block is begun (a one-block
 * prefetch), so that an asynchronous {@link HostToDevice} overlaps it with block {@code i}'s
 * compute; the synchronous default simply copies it early. A lease books its own block (copy and
 * widened weights) before it begins the next block's copy, and a prefetch that the budget cannot
 * hold is skipped, not an error. So at most two streamed blocks in storage form and one block's
 * widened weights are on the device beyond the resident blocks.
 */
public final class BlockStore implements AutoCloseable {

  /** Builds one block from its parameters (named relative to the block) on a manager. */
  @FunctionalInterface
  public interface Builder {
    Object build(ParameterLoader parameters, NDManager manager);
  }

  /**
   * One block, in call order.
   *
   * @param name its key prefix in the checkpoint (e.g. {@code layers.7}), also the ledger's label
   * @param streamed true when it lives in host memory between calls
   * @param builder how the family builds it
   */
  public record Slot(String name, boolean streamed, Builder builder) {}

  /** What happens to a block matrix (a 2-D {@code .weight}) stored in 16 or 32 bits. */
  public enum Float8 {
    /** Kept in the compute dtype: only a float8 checkpoint's matrices are stored in float8. */
    AS_STORED,
    /** Narrowed to e4m3fn with a per-tensor scale when loaded. */
    NARROW
  }

  private final Device device;
  private final DataType compute;
  private final DeviceLedger ledger;
  private final HostToDevice hostToDevice;
  private final Widener widener;
  private final boolean storedWeights;
  private final Float8 float8;
  private final NDManager host;
  private final NDManager resident;
  private final List<Stored> blocks;
  private final List<DeviceLedger.Booking> residentBookings = new ArrayList<>();
  private LayerStream stream;

  /** One block in its storage form; {@code built} is set for a resident block without float8. */
  private static final class Stored {
    final Slot slot;
    final List<String> keys = new ArrayList<>();
    final List<DType> dtypes = new ArrayList<>();

    /** Per array: the factor its widened float8 values are multiplied by (1 when unscaled). */
    final List<Float> scales = new ArrayList<>();

    NDList arrays = new NDList();
    long bytes;
    Object built;

    Stored(Slot slot) {
      this.slot = slot;
    }

    String name() {
      return slot.name();
    }

    boolean streamed() {
      return slot.streamed();
    }

    boolean hasFloat8() {
      return dtypes.stream().anyMatch(DType::isFloat8);
    }
  }

  private BlockStore(
      Weights weights,
      int count,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      boolean storedWeights,
      Float8 float8) {
    this.device = weights.target().device();
    this.compute = weights.target().dtype();
    this.ledger = ledger;
    this.hostToDevice = hostToDevice;
    this.widener = widener;
    this.storedWeights = storedWeights;
    this.float8 = float8;
    this.host = NDManager.newBaseManager(Device.cpu());
    this.resident = NDManager.newBaseManager(device);
    this.blocks = new ArrayList<>(count);
  }

  /**
   * Reads every block, moves the resident ones to the device (booking them) and keeps the others in
   * host memory.
   *
   * @param weights the checkpoint, scoped so that {@code slot.name() + "." + key} names a tensor;
   *     its store must outlive this one (on CPU the host copies may alias its memory-mapped bytes)
   * @param slots every block, in the order a forward pass calls them
   * @param storedWeights true when a lease is to pass float8 matrices that the transfer keeps as
   *     real float8 tensors as stored (with their value scales) for a kernel that widens them
   *     itself one at a time; false when it hands out blocks in the compute dtype
   * @throws BudgetExceededException when the resident blocks do not fit the ledger's budget
   */
  public static BlockStore load(
      Weights weights,
      List<Slot> slots,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      boolean storedWeights,
      Float8 float8) {
    BlockStore s =
        new BlockStore(weights, slots.size(), ledger, hostToDevice, widener, storedWeights, float8);
    try {
      for (Slot slot : slots) {
        s.add(weights, slot);
      }
      List<LayerStream.HostLayer> streamed = new ArrayList<>(s.blocks.size());
      for (Stored b : s.blocks) {
        streamed.add(
            b.streamed() ? new LayerStream.HostLayer(b.name(), b.keys, b.arrays, b.bytes) : null);
      }
      s.stream = new LayerStream(streamed, s.device, ledger, hostToDevice);
      // Loaded: from here on an allocation on these managers is a bug.
      s.host.cap();
      s.resident.cap();
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private void add(Weights weights, Slot slot) {
    Stored b = new Stored(slot);
    ParameterLoader recorder = (key, m, shape) -> record(weights, b, key, shape);
    // Loading the block through its own code names exactly the tensors it needs, shapes checked.
    slot.builder().build(recorder, host);
    blocks.add(b);
    if (slot.streamed()) {
      return;
    }
    DeviceLedger.Booking booking = ledger.reserve(b.bytes, b.name() + " resident");
    residentBookings.add(booking);
    NDList onDevice = hostToDevice.begin(b.arrays, resident).await();
    NDList onHost = b.arrays;
    b.arrays = onDevice;
    onHost.close();
    if (!b.hasFloat8()) {
      b.built = slot.builder().build(replay(b, b.arrays), resident);
    }
  }

  private NDArray record(Weights weights, Stored b, String key, long[] shape) {
    String full = b.name() + "." + key;
    TensorEntry e = weights.entry(full);
    DType dtype = e.dtype();
    float scale = 1f;
    NDArray stored;
    if (dtype.isFloat8()) {
      if (!Arrays.equals(e.shape(), shape)) {
        throw new SafetensorsException(
            weights.store().describe(),
            full,
            "wrong shape " + Arrays.toString(e.shape()) + ", expected " + Arrays.toString(shape));
      }
      stored = host.create(weights.store().bytes(e.name()), new Shape(shape), DataType.UINT8);
      // Float8 stays bytes plus its one scale, a float kept here (no device memory; the planner's
      // memory model counts 4 bytes for it all the same).
      scale = weights.valueScale(full);
    } else if (float8 == Float8.NARROW && shape.length == 2 && key.endsWith(".weight")) {
      float[] values;
      try (NDArray wide = weights.load(full, host, shape)) {
        values = wide.toType(DataType.FLOAT32, false).toFloatArray();
      }
      scale = Narrowing.e4m3fnScale(values);
      for (int i = 0; i < values.length; i++) {
        values[i] /= scale;
      }
      dtype = DType.F8_E4M3;
      stored =
          host.create(
              ByteBuffer.wrap(Narrowing.encode(values, DType.F8_E4M3)),
              new Shape(shape),
              DataType.UINT8);
    } else {
      stored =
          weights.load(full, host, shape); // the compute dtype (any scale applied), on the host
    }
    NDArray kept = hostToDevice.keepOnHost(stored, dtype, host);
    if (kept != stored) {
      stored.close(); // a pinned copy replaced it: do not hold the weights twice in host memory
    }
    b.keys.add(key);
    b.dtypes.add(dtype);
    b.scales.add(scale);
    b.arrays.add(kept);
    // From the storage form, not the array: a GPU host copy of float8 may be opaque to DJL.
    long elements = new Shape(shape).size();
    b.bytes += elements * (dtype.isFloat8() ? 1 : compute.getNumOfBytes());
    return kept;
  }

  /** A loader that hands out {@code arrays} (in the order {@code b.keys}) by key. */
  private static ParameterLoader replay(Stored b, NDList arrays) {
    Map<String, NDArray> byKey = new HashMap<>();
    for (int i = 0; i < b.keys.size(); i++) {
      byKey.put(b.keys.get(i), arrays.get(i));
    }
    return (key, m, shape) -> {
      NDArray a = byKey.get(key);
      if (a == null) {
        throw new IllegalStateException(b.name() + "." + key + " was not loaded with the block");
      }
      return a;
    };
  }

  /** How many blocks the store holds. */
  public int size() {
    return blocks.size();
  }

  /**
   * The block at {@code position} (in the order of the slots), built as {@code type}, usable until
   * the lease is closed.
   */
  public <T> BlockLease<T> lease(int position, Class<T> type) {
    if (position < 0 || position >= blocks.size()) {
      throw new IndexOutOfBoundsException("block " + position + " of " + blocks.size());
    }
    Stored b = blocks.get(position);
    if (b.built != null) {
      stream.prefetchAfter(position);
      return BlockLease.resident(type.cast(b.built));
    }
    NDManager m = NDManager.newBaseManager(device);
    List<AutoCloseable> owned = new ArrayList<>(4);
    owned.add(m);
    try {
      LayerStream.Copy own = null;
      if (b.streamed()) {
        own = stream.copy(position);
        owned.add(own);
      }
      // This block's widened weights are booked before the next block's copy: a prefetch may be
      // skipped for lack of room, this block's needs may not.
      if (b.hasFloat8()) {
        owned.add(ledger.reserve(wideningBytes(b), b.name() + " widened"));
      }
      stream.prefetchAfter(position);
      NDList arrays = own != null ? own.await() : b.arrays;
      NDList usable = widen(b, arrays, m);
      Map<String, NDArray> scales = storedScales(b, m);
      T block = type.cast(b.slot.builder().build(replay(b, usable), m));
      return new BlockLease<>() {
        @Override
        public T block() {
          return block;
        }

        @Override
        public Map<String, NDArray> weightScales() {
          return scales;
        }

        @Override
        public void close() {
          closeAll(owned);
        }
      };
    } catch (RuntimeException e) {
      closeAll(owned);
      throw e;
    }
  }

  /** Frees a lease's managers and releases its bookings, all of them even if one fails. */
  private static void closeAll(List<AutoCloseable> owned) {
    IllegalStateException failure = null;
    for (AutoCloseable c : owned) {
      try {
        c.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new IllegalStateException("cannot free a block lease", e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Device bytes of a block's float8 weights widened to the compute dtype, plus the widener's
   * scratch for the largest of them.
   */
  private long wideningBytes(Stored b) {
    long widened = 0;
    long largest = 0;
    long largestPassed = 0;
    for (int i = 0; i < b.arrays.size(); i++) {
      if (b.dtypes.get(i).isFloat8()) {
        long n = b.arrays.get(i).getShape().size();
        if (passesStored(b, i)) {
          largestPassed = Math.max(largestPassed, n);
        } else {
          widened += n;
          largest = Math.max(largest, n);
        }
      }
    }
    return (widened + largestPassed) * compute.getNumOfBytes()
        + (largest > 0 ? widener.scratchBytes(largest) : 0);
  }

  /**
   * True when array {@code i} goes to the kernel as stored: the kernel takes stored weights and the
   * array is a real float8 tensor (opaque to DJL, as the GPU transfer keeps float8), not float8
   * bytes in a UINT8 array, which only the widener reads.
   */
  private boolean passesStored(Stored b, int i) {
    return storedWeights
        && b.dtypes.get(i).isFloat8()
        && b.arrays.get(i).getDataType() == DataType.UNKNOWN;
  }

  /** {@code NAME.weight_scale} scalars on {@code m} for the scaled matrices passed as stored. */
  private Map<String, NDArray> storedScales(Stored b, NDManager m) {
    Map<String, NDArray> scales = new HashMap<>();
    for (int i = 0; i < b.keys.size(); i++) {
      if (passesStored(b, i) && b.scales.get(i) != 1f) {
        String key = b.keys.get(i);
        String layer = key.substring(0, key.length() - ".weight".length());
        scales.put(layer + ".weight_scale", m.create(b.scales.get(i)));
      }
    }
    return scales;
  }

  /**
   * The block's arrays in the compute dtype: float8 ones widened onto {@code m} (unless the
   * transfer already delivered them widened).
   */
  private NDList widen(Stored b, NDList arrays, NDManager m) {
    if (!b.hasFloat8()) {
      return arrays;
    }
    NDList out = new NDList(arrays.size());
    for (int i = 0; i < arrays.size(); i++) {
      NDArray a = arrays.get(i);
      if (passesStored(b, i)) {
        out.add(a); // the kernel widens it (and applies its scale) right before its matmul
        continue;
      }
      boolean narrow = b.dtypes.get(i).isFloat8() && a.getDataType() != compute;
      NDArray widened = narrow ? widener.widen(a, b.dtypes.get(i), compute, m) : a;
      float scale = b.scales.get(i);
      if (scale != 1f) {
        widened = narrow ? widened.muli(scale) : scaledCopy(a, scale, m);
      }
      out.add(widened);
    }
    return out;
  }

  /**
   * {@code a * scale} on {@code m}, for float8 weights a transfer delivered already widened: they
   * may be a resident block's, which must not change, on a manager that takes no new arrays.
   */
  private static NDArray scaledCopy(NDArray a, float scale, NDManager m) {
    try (NDManager scratch = m.newSubManager(a.getDevice())) {
      scratch.tempAttachAll(a);
      NDArray out = a.mul(scale);
      out.attach(m);
      return out;
    }
  }

  /** Drops a prefetched copy that no lease will claim (e.g. after a failed forward pass). */
  public void cancelPrefetch() {
    if (stream != null) {
      stream.cancelPrefetch();
    }
  }

  /** Device bytes of the resident blocks in their storage form. */
  public long residentBytes() {
    return blocks.stream().filter(b -> !b.streamed()).mapToLong(b -> b.bytes).sum();
  }

  /** Bytes copied host to device per forward pass: the streamed blocks' storage form. */
  public long streamedBytesPerPass() {
    return blocks.stream().filter(Stored::streamed).mapToLong(b -> b.bytes).sum();
  }

  /** The largest streamed block's storage bytes (what a prefetch adds to the peak). */
  public long largestStreamedBlockBytes() {
    return blocks.stream().filter(Stored::streamed).mapToLong(b -> b.bytes).max().orElse(0);
  }

  /** Bytes copied host to device since loading. */
  public long bytesCopied() {
    return stream.bytesCopied();
  }

  /** Prefetches skipped because the budget could not hold a second block. */
  public long prefetchesSkipped() {
    return stream.prefetchesSkipped();
  }

  /** Bytes of every array the store holds on the device between calls (a measurement). */
  public long residentArrayBytes() {
    return DeviceLedger.bytesOf(resident);
  }

  @Override
  public void close() {
    cancelPrefetch();
    resident.close();
    host.close();
    residentBookings.forEach(DeviceLedger.Booking::close);
    residentBookings.clear();
  }
}
