package dev.fleet.engine.flux;

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
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.weights.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The first K double and K' single blocks on the device, the rest in host memory, copied to the
 * device for their call and freed after it (through a {@link LayerStream}): the DiT of a memory
 * plan that does not fit whole.
 *
 * <p>Every block is kept in its storage form: float8 weights as their raw bytes (UINT8, half of
 * float16 on the wire and in memory), everything else in the compute dtype. Float8 bytes are
 * widened on the device right before the block's call, for resident and streamed blocks alike, so a
 * resident float8 block costs one byte per weight between calls. Every device allocation is booked
 * in the {@link DeviceLedger}: resident blocks for the source's lifetime, a streamed block's copy
 * and any widened weights for its lease.
 *
 * <p>While block {@code i} is leased the copy of the next streamed block of the same forward pass
 * is begun (a one-block prefetch), so that an asynchronous {@link HostToDevice} overlaps it with
 * block {@code i}'s compute; the synchronous default simply copies it early. A lease books its own
 * block (copy and widened weights) before it begins the next block's copy, and a prefetch that the
 * budget cannot hold is skipped, not an error. So at most two streamed blocks in storage form and
 * one block's widened weights are on the device beyond the resident blocks.
 */
public final class StreamedBlocks implements BlockSource {
  private final FluxParams params;
  private final Device device;
  private final DataType compute;
  private final DeviceLedger ledger;
  private final HostToDevice hostToDevice;
  private final Widener widener;
  private final boolean storedWeights;
  private final int residentDouble;
  private final int residentSingle;
  private final NDManager host;
  private final NDManager resident;
  private final List<Stored> blocks;
  private final List<DeviceLedger.Booking> residentBookings = new ArrayList<>();
  private LayerStream stream;

  /** One block in its storage form; {@code built} is set for a resident block without float8. */
  private static final class Stored {
    final String name;
    final List<String> keys = new ArrayList<>();
    final List<DType> dtypes = new ArrayList<>();

    /** Per array: the factor its widened float8 values are multiplied by (1 when unscaled). */
    final List<Float> scales = new ArrayList<>();

    NDList arrays = new NDList();
    long bytes;
    boolean streamed;
    Object built;

    Stored(String name) {
      this.name = name;
    }

    boolean hasFloat8() {
      return dtypes.stream().anyMatch(DType::isFloat8);
    }
  }

  private StreamedBlocks(
      FluxParams params,
      Device device,
      DataType compute,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      boolean storedWeights,
      int residentDouble,
      int residentSingle) {
    this.params = params;
    this.device = device;
    this.compute = compute;
    this.ledger = ledger;
    this.hostToDevice = hostToDevice;
    this.widener = widener;
    this.storedWeights = storedWeights;
    this.residentDouble = residentDouble;
    this.residentSingle = residentSingle;
    this.host = NDManager.newBaseManager(Device.cpu());
    this.resident = NDManager.newBaseManager(device);
    this.blocks = new ArrayList<>(params.dims().depth() + params.dims().depthSingleBlocks());
  }

  /**
   * Reads every block, moves the resident ones to the device (booking them) and keeps the others in
   * host memory.
   *
   * @param weights the whole checkpoint (unscoped); its store must outlive this source (on CPU the
   *     host copies may alias its memory-mapped bytes)
   * @param residentDouble how many of the first double blocks stay on the device (capped at depth)
   * @param residentSingle how many of the first single blocks stay on the device (capped at depth)
   * @throws BudgetExceededException when the resident blocks do not fit the ledger's budget
   */
  public static StreamedBlocks load(
      Weights weights,
      FluxParams params,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener) {
    return load(
        weights,
        params,
        residentDouble,
        residentSingle,
        ledger,
        hostToDevice,
        widener,
        BlockKernel.DJL);
  }

  /**
   * As {@link #load(Weights, FluxParams, int, int, DeviceLedger, HostToDevice, Widener)}, with
   * blocks handed out the way {@code kernel} takes them: when it {@linkplain
   * BlockKernel#takesStoredWeights() takes stored weights}, a lease passes float8 matrices that the
   * transfer keeps as real float8 tensors on as stored (with their value scales) and books only the
   * largest of them widened, since the kernel widens one matrix at a time.
   */
  public static StreamedBlocks load(
      Weights weights,
      FluxParams params,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      BlockKernel kernel) {
    if (residentDouble < 0 || residentSingle < 0) {
      throw new IllegalArgumentException(
          "resident block counts must be >= 0, got " + residentDouble + ", " + residentSingle);
    }
    StreamedBlocks s =
        new StreamedBlocks(
            params,
            weights.target().device(),
            weights.target().dtype(),
            ledger,
            hostToDevice,
            widener,
            kernel.takesStoredWeights(),
            Math.min(residentDouble, params.dims().depth()),
            Math.min(residentSingle, params.dims().depthSingleBlocks()));
    try {
      for (int i = 0; i < params.dims().depth(); i++) {
        s.add(weights, "double_blocks." + i, i >= s.residentDouble, true);
      }
      for (int i = 0; i < params.dims().depthSingleBlocks(); i++) {
        s.add(weights, "single_blocks." + i, i >= s.residentSingle, false);
      }
      List<LayerStream.HostLayer> streamed = new ArrayList<>(s.blocks.size());
      for (Stored b : s.blocks) {
        streamed.add(
            b.streamed ? new LayerStream.HostLayer(b.name, b.keys, b.arrays, b.bytes) : null);
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

  private void add(Weights weights, String name, boolean streamed, boolean isDouble) {
    Stored b = new Stored(name);
    b.streamed = streamed;
    ParameterLoader recorder = (key, m, shape) -> record(weights, b, key, shape);
    // Loading the block through its own code names exactly the tensors it needs, shapes checked.
    build(isDouble, recorder, host);
    blocks.add(b);
    if (streamed) {
      return;
    }
    DeviceLedger.Booking booking = ledger.reserve(b.bytes, name + " resident");
    residentBookings.add(booking);
    NDList onDevice = hostToDevice.begin(b.arrays, resident).await();
    NDList onHost = b.arrays;
    b.arrays = onDevice;
    onHost.close();
    if (!b.hasFloat8()) {
      b.built = build(isDouble, replay(b, b.arrays), resident);
    }
  }

  private NDArray record(Weights weights, Stored b, String key, long[] shape) {
    String full = b.name + "." + key;
    TensorEntry e = weights.entry(full);
    NDArray stored;
    if (e.dtype().isFloat8()) {
      if (!Arrays.equals(e.shape(), shape)) {
        throw new SafetensorsException(
            weights.store().describe(),
            full,
            "wrong shape " + Arrays.toString(e.shape()) + ", expected " + Arrays.toString(shape));
      }
      stored = host.create(weights.store().bytes(e.name()), new Shape(shape), DataType.UINT8);
    } else {
      stored = weights.load(full, host, shape); // the compute dtype, on the host
    }
    NDArray kept = hostToDevice.keepOnHost(stored, e.dtype(), host);
    if (kept != stored) {
      stored.close(); // a pinned copy replaced it: do not hold the weights twice in host memory
    }
    // Float8 stays bytes plus its one scale, a float kept here (no device memory; the planner's
    // memory model counts 4 bytes for it all the same); any other tensor was scaled when loaded.
    float scale = e.dtype().isFloat8() ? weights.valueScale(full) : 1f;
    b.keys.add(key);
    b.dtypes.add(e.dtype());
    b.scales.add(scale);
    b.arrays.add(kept);
    // From the storage form, not the array: a GPU host copy of float8 may be opaque to DJL.
    long elements = new Shape(shape).size();
    b.bytes += elements * (e.dtype().isFloat8() ? 1 : compute.getNumOfBytes());
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
        throw new IllegalStateException(b.name + "." + key + " was not loaded with the block");
      }
      return a;
    };
  }

  private Object build(boolean isDouble, ParameterLoader w, NDManager m) {
    return isDouble ? DoubleStreamBlock.load(w, params, m) : SingleStreamBlock.load(w, params, m);
  }

  @Override
  public BlockLease<DoubleStreamBlock> doubleBlock(int index) {
    checkIndex(index, params.dims().depth(), "double");
    return lease(index, DoubleStreamBlock.class);
  }

  @Override
  public BlockLease<SingleStreamBlock> singleBlock(int index) {
    checkIndex(index, params.dims().depthSingleBlocks(), "single");
    return lease(params.dims().depth() + index, SingleStreamBlock.class);
  }

  private static void checkIndex(int index, int depth, String kind) {
    if (index < 0 || index >= depth) {
      throw new IndexOutOfBoundsException(kind + " block " + index + " of " + depth);
    }
  }

  private <T> BlockLease<T> lease(int position, Class<T> type) {
    Stored b = blocks.get(position);
    boolean isDouble = position < params.dims().depth();
    if (b.built != null) {
      stream.prefetchAfter(position);
      return BlockLease.resident(type.cast(b.built));
    }
    NDManager m = NDManager.newBaseManager(device);
    List<AutoCloseable> owned = new ArrayList<>(4);
    owned.add(m);
    try {
      LayerStream.Copy own = null;
      if (b.streamed) {
        own = stream.copy(position);
        owned.add(own);
      }
      // This block's widened weights are booked before the next block's copy: a prefetch may be
      // skipped for lack of room, this block's needs may not.
      if (b.hasFloat8()) {
        owned.add(ledger.reserve(wideningBytes(b), b.name + " widened"));
      }
      stream.prefetchAfter(position);
      NDList arrays = own != null ? own.await() : b.arrays;
      NDList usable = widen(b, arrays, m);
      Map<String, NDArray> scales = storedScales(b, m);
      T block = type.cast(build(isDouble, replay(b, usable), m));
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

  /** Resident double blocks (the first ones). */
  public int residentDouble() {
    return residentDouble;
  }

  /** Resident single blocks (the first ones). */
  public int residentSingle() {
    return residentSingle;
  }

  /** Device bytes of the resident blocks in their storage form. */
  public long residentBytes() {
    return blocks.stream().filter(b -> !b.streamed).mapToLong(b -> b.bytes).sum();
  }

  /** Bytes copied host to device per forward pass: the streamed blocks' storage form. */
  public long streamedBytesPerPass() {
    return blocks.stream().filter(b -> b.streamed).mapToLong(b -> b.bytes).sum();
  }

  /** The largest streamed block's storage bytes (what a prefetch adds to the peak). */
  public long largestStreamedBlockBytes() {
    return blocks.stream().filter(b -> b.streamed).mapToLong(b -> b.bytes).max().orElse(0);
  }

  /** Bytes copied host to device since loading. */
  public long bytesCopied() {
    return stream.bytesCopied();
  }

  /** Prefetches skipped because the budget could not hold a second block. */
  public long prefetchesSkipped() {
    return stream.prefetchesSkipped();
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
