package dev.fleet.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;

/**
 * A view of a checkpoint under a key prefix that turns stored tensors into NDArrays in the compute
 * precision on the compute device. Float8 stays as bytes until it reaches the device and is widened
 * there through a 256-entry table; bfloat16 is widened in Java because DJL cannot hold it. The
 * store is owned by whoever opened it, not by this view.
 */
public final class Weights {
  private final TensorStore store;
  private final String prefix;
  private final ComputeTarget target;

  public Weights(TensorStore store, ComputeTarget target) {
    this(store, "", target);
  }

  private Weights(TensorStore store, String prefix, ComputeTarget target) {
    this.store = store;
    this.prefix = prefix;
    this.target = target;
  }

  /** The view under {@code prefix + name + "."}. */
  public Weights scoped(String name) {
    return new Weights(store, prefix + name + ".", target);
  }

  public ComputeTarget target() {
    return target;
  }

  public TensorStore store() {
    return store;
  }

  public String prefix() {
    return prefix;
  }

  public boolean has(String key) {
    return store.contains(prefix + key);
  }

  public TensorEntry entry(String key) {
    return store.entry(prefix + key);
  }

  /** The factor the stored values of {@code key} are multiplied by (1 unless scaled float8). */
  public float valueScale(String key) {
    return store.valueScale(prefix + key);
  }

  public long[] shape(String key) {
    return entry(key).shape();
  }

  /**
   * Loads a tensor onto the manager's device in the compute dtype.
   *
   * @param expectedShape checked when not null; a mismatch names the key and both shapes
   */
  public NDArray load(String key, NDManager manager, long... expectedShape) {
    TensorEntry e = entry(key);
    if (expectedShape != null
        && expectedShape.length > 0
        && !java.util.Arrays.equals(e.shape(), expectedShape)) {
      throw new SafetensorsException(
          store.describe(),
          e.name(),
          "wrong shape "
              + java.util.Arrays.toString(e.shape())
              + ", expected "
              + java.util.Arrays.toString(expectedShape));
    }
    try (NDManager scratch = manager.newSubManager()) {
      NDArray stored = loadStored(e, scratch);
      NDArray out =
          switch (e.dtype()) {
            case F8_E4M3 -> widenOnDevice(stored, Widening.E4M3FN, scratch);
            case F8_E5M2 -> widenOnDevice(stored, Widening.E5M2, scratch);
            case F64, F32, F16, BF16 -> stored.toType(target.dtype(), false);
            default -> stored;
          };
      float scale = store.valueScale(e.name());
      if (scale != 1f) {
        if (!e.dtype().isFloating()) {
          throw new SafetensorsException(
              store.describe(), e.name(), "a scale on a " + e.dtype() + " tensor");
        }
        // W = stored * scale (ComfyUI's scaled float8), on the device: in place on a widened
        // float8 copy; otherwise into a new array, since a tensor loaded as stored may share
        // the checkpoint's read-only mapping.
        boolean widened = e.dtype().isFloat8();
        out = widened ? out.muli(scale) : out.mul(scale);
      }
      out.attach(manager);
      return out;
    }
  }

  /** Float8 bytes to the compute dtype on the device: a table lookup, exact for e4m3 into fp16. */
  private NDArray widenOnDevice(NDArray bytes, float[] table, NDManager scratch) {
    NDArray lut = scratch.create(table).toType(target.dtype(), false);
    return lut.take(bytes.toType(DataType.INT64, false).flatten()).reshape(bytes.getShape());
  }

  /**
   * The tensor as stored where DJL can hold it (float8 as UINT8 bytes, bf16 widened to float32).
   */
  NDArray loadStored(TensorEntry e, NDManager manager) {
    Shape shape = new Shape(e.shape());
    ByteBuffer bytes = store.bytes(e.name());
    return switch (e.dtype()) {
      case F32 -> manager.create(bytes, shape, DataType.FLOAT32);
      case F16 -> manager.create(bytes, shape, DataType.FLOAT16);
      case F64 -> manager.create(bytes, shape, DataType.FLOAT64);
      case BF16 -> manager.create(Widening.bf16ToF32(bytes), shape, DataType.FLOAT32);
      case F8_E4M3, F8_E5M2, U8 -> manager.create(bytes, shape, DataType.UINT8);
      case I64 -> manager.create(bytes, shape, DataType.INT64);
      case I32 -> manager.create(bytes, shape, DataType.INT32);
      case I8 -> manager.create(bytes, shape, DataType.INT8);
      case BOOL -> manager.create(bytes, shape, DataType.BOOLEAN);
      default ->
          throw new SafetensorsException(
              store.describe(), e.name(), "cannot load dtype " + e.dtype());
    };
  }
}
