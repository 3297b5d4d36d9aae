package dev.fleet.engine.text;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.LayerStream;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * T5 for budgets that cannot hold it whole (T5-XXL is 9.5 GB in float16): every parameter kept in
 * host memory (as {@link HostToDevice#keepOnHost} makes it: page-locked on a GPU) for the worker's
 * lifetime, and put on the device only for an encode. {@link #onDevice} copies the token embedding,
 * the relative position bias and the final norm (the head) to the device for the encode and returns
 * a {@link T5Encoder} whose blocks are copied one at a time for their call through a {@link
 * LayerStream} (the next block's copy begun while this one computes). Every device byte is booked
 * in the ledger: the head while the encoder is open, each block's copy while it is leased or
 * prefetched. The forward pass is {@link T5Encoder#forward}'s, so the output is the resident
 * encoder's.
 */
public final class StreamedT5Encoder implements AutoCloseable {
  private final T5Config config;
  private final Device device;
  private final DeviceLedger ledger;
  private final HostToDevice hostToDevice;
  private final NDManager host;
  private final NDList head = new NDList(3); // embedding, bias table, final norm
  private final long headBytes;
  private final LayerStream stream;
  private final AtomicLong headBytesCopied = new AtomicLong();

  private StreamedT5Encoder(
      T5Config config,
      Device device,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      NDManager host,
      NDList head,
      List<LayerStream.HostLayer> layers) {
    this.config = config;
    this.device = device;
    this.ledger = ledger;
    this.hostToDevice = hostToDevice;
    this.host = host;
    this.head.addAll(head);
    this.headBytes = bytes(head);
    this.stream = new LayerStream(layers, device, ledger, hostToDevice);
  }

  /** Reads {@code dir/config.json} and the weights in {@code dir} into host memory. */
  public static StreamedT5Encoder load(
      Path dir, ComputeTarget target, DeviceLedger ledger, HostToDevice hostToDevice) {
    T5Config config = T5Config.read(dir);
    try (TensorStore store = TensorStore.open(dir)) {
      return load(config, new Weights(store, target), ledger, hostToDevice);
    }
  }

  /**
   * Reads every parameter of a {@code T5EncoderModel} (or full T5) checkpoint into host memory, in
   * the compute dtype ({@code wo} in float32, see {@link T5Block}); nothing is booked or put on the
   * device. The store may be closed afterwards.
   *
   * @param ledger books the device copies of every later encode
   */
  public static StreamedT5Encoder load(
      T5Config config, Weights w, DeviceLedger ledger, HostToDevice hostToDevice) {
    NDManager host = NDManager.newBaseManager(Device.cpu());
    try {
      String embeddingKey = T5Encoder.embeddingKey(w);
      Weights encoder = w.scoped("encoder");
      NDList head = new NDList(3);
      head.add(
          keep(
              w.load(embeddingKey, host, config.dims().vocabSize(), config.dims().dModel()),
              hostToDevice));
      head.add(
          keep(
              encoder.load(
                  T5Encoder.POSITION_BIAS, host, config.dims().numBuckets(), config.dims().heads()),
              hostToDevice));
      head.add(
          keep(
              encoder.load("final_layer_norm.weight", host, config.dims().dModel()), hostToDevice));
      List<LayerStream.HostLayer> layers = new ArrayList<>(config.dims().layers());
      for (int i = 0; i < config.dims().layers(); i++) {
        layers.add(
            hostLayer(encoder.scoped("block." + i), "t5 block." + i, config, host, hostToDevice));
      }
      // Loaded: from here on an allocation on the host manager is a bug.
      host.cap();
      return new StreamedT5Encoder(
          config, w.target().device(), ledger, hostToDevice, host, head, layers);
    } catch (RuntimeException e) {
      host.close();
      throw e;
    }
  }

  /** One block's parameters in host memory, named by loading the block through its own code. */
  private static LayerStream.HostLayer hostLayer(
      Weights block, String name, T5Config config, NDManager host, HostToDevice hostToDevice) {
    ParameterLoader source = T5Block.parameters(block);
    List<String> keys = new ArrayList<>();
    NDList arrays = new NDList();
    ParameterLoader recorder =
        (key, m, shape) -> {
          NDArray kept = keep(source.load(key, host, shape), hostToDevice);
          keys.add(key);
          arrays.add(kept);
          return kept;
        };
    T5Block.load(recorder, config, host);
    return new LayerStream.HostLayer(name, keys, arrays, bytes(arrays));
  }

  /** The host copy {@code hostToDevice} keeps of {@code a} (the original is freed if replaced). */
  private static NDArray keep(NDArray a, HostToDevice hostToDevice) {
    DType storage = a.getDataType() == DataType.FLOAT16 ? DType.F16 : DType.F32;
    NDArray kept = hostToDevice.keepOnHost(a, storage, a.getManager());
    if (kept != a) {
      a.close(); // a pinned copy replaced it: do not hold the weights twice in host memory
    }
    return kept;
  }

  /** Device bytes of arrays in the compute dtype ({@code wo} in float32). */
  private static long bytes(NDList arrays) {
    long n = 0;
    for (NDArray a : arrays) {
      n += DeviceLedger.bytesOf(a);
    }
    return n;
  }

  public T5Config config() {
    return config;
  }

  /**
   * Copies the head to the device (booked until the returned encoder is closed) and returns an
   * encoder that streams its blocks. Close it right after the encode: it holds device memory.
   *
   * @throws dev.fleet.engine.memory.BudgetExceededException when the head does not fit
   */
  public T5Encoder onDevice() {
    DeviceLedger.Booking booking = ledger.reserve(headBytes, "t5 embedding, bias and final norm");
    NDManager parameters = NDManager.newBaseManager(device);
    try {
      NDList copies = hostToDevice.begin(head, parameters).await();
      headBytesCopied.addAndGet(headBytes);
      parameters.cap();
      NDArray embedding = copies.get(0); // (V, d_model)
      var bias =
          new T5RelativePositionBias(
              copies.get(1), config.dims().numBuckets(), config.maxDistance());
      var finalNorm = new T5LayerNorm(copies.get(2), config.layerNormEps());
      return new T5Encoder(config, parameters, embedding, bias, new Streamed(booking), finalNorm);
    } catch (RuntimeException e) {
      parameters.close();
      booking.close();
      throw e;
    }
  }

  /** The blocks as the encoder sees them: each copied for its call, the next one prefetched. */
  private final class Streamed implements T5Encoder.Layers {
    private final DeviceLedger.Booking headBooking;

    Streamed(DeviceLedger.Booking headBooking) {
      this.headBooking = headBooking;
    }

    @Override
    public BlockLease<T5Block> layer(int index) {
      LayerStream.Copy copy = stream.copy(index);
      try {
        stream.prefetchAfter(index);
        LayerStream.HostLayer layer = stream.layer(index);
        Map<String, NDArray> byKey = layer.byKey(copy.await());
        ParameterLoader replay =
            (key, m, shape) -> {
              NDArray a = byKey.get(key);
              if (a == null || !a.getShape().equals(new Shape(shape))) {
                throw new SafetensorsException(
                    layer.name(),
                    key,
                    a == null
                        ? "was not copied with the block"
                        : "copied as " + a.getShape() + ", expected " + Arrays.toString(shape));
              }
              return a;
            };
        T5Block block = T5Block.load(replay, config, null); // replayed: nothing is allocated
        return new BlockLease<>() {
          @Override
          public T5Block block() {
            return block;
          }

          @Override
          public void close() {
            copy.close();
          }
        };
      } catch (RuntimeException e) {
        copy.close();
        throw e;
      }
    }

    @Override
    public void close() {
      try {
        stream.cancelPrefetch(); // a failed forward pass may leave the next block's copy behind
      } finally {
        headBooking.close();
      }
    }
  }

  /** Host-to-device bytes of one encode: the head and every block once. */
  public long bytesPerEncode() {
    return headBytes + stream.bytesPerPass();
  }

  /** Device bytes of the largest block's copy (two are on the device while one is prefetched). */
  public long largestLayerBytes() {
    return stream.largestBytes();
  }

  /** Device bytes of the head (embedding, position bias, final norm) while an encode runs. */
  public long headBytes() {
    return headBytes;
  }

  /** Host-to-device bytes since loading. */
  public long bytesCopied() {
    return headBytesCopied.get() + stream.bytesCopied();
  }

  /** Prefetches skipped because the budget could not hold a second block. */
  public long prefetchesSkipped() {
    return stream.prefetchesSkipped();
  }

  /** Frees the host copies; encoders from {@link #onDevice} must be closed before. */
  @Override
  public void close() {
    stream.cancelPrefetch();
    host.close();
  }
}
