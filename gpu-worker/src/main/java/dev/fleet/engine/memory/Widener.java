package dev.fleet.engine.memory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.weights.Widening;

/**
 * Float8 weights (held as UINT8 bytes, DJL has no float8 type) to the compute dtype on the device
 * where they will be used. A GPU implementation can replace the table lookup with a TorchScript
 * cast ({@code w8.to(torch.float16)}).
 */
@FunctionalInterface
public interface Widener {

  /**
   * @param bytes the stored bytes (UINT8) on the compute device
   * @param storage {@link DType#F8_E4M3} or {@link DType#F8_E5M2}
   * @param compute the compute dtype
   * @param manager receives the result
   * @return the values in {@code compute}, shaped as {@code bytes}
   */
  NDArray widen(NDArray bytes, DType storage, DataType compute, NDManager manager);

  /**
   * Device bytes the widening of a tensor of {@code elements} weights needs besides its result
   * (booked with the widened weights).
   */
  default long scratchBytes(long elements) {
    return 0;
  }

  /**
   * A 256-entry table of every byte's value and {@code take}: exact (e4m3 and e5m2 are subsets of
   * float16) and on the device.
   */
  static Widener lookupTable() {
    return new Widener() {
      @Override
      public NDArray widen(NDArray bytes, DType storage, DataType compute, NDManager manager) {
        float[] table =
            switch (storage) {
              case F8_E4M3 -> Widening.E4M3FN;
              case F8_E5M2 -> Widening.E5M2;
              default ->
                  throw new IllegalArgumentException("cannot widen " + storage + ": not float8");
            };
        try (NDManager scratch = manager.newSubManager(bytes.getDevice())) {
          scratch.tempAttachAll(bytes); // its own manager may be capped (resident blocks)
          NDArray lut = scratch.create(table).toType(compute, false);
          NDArray out =
              lut.take(bytes.toType(DataType.INT64, false).flatten()).reshape(bytes.getShape());
          out.attach(manager);
          return out;
        }
      }

      /** {@code take} indexes with int64: 8 bytes per weight while the tensor is widened. */
      @Override
      public long scratchBytes(long elements) {
        return 8 * elements;
      }
    };
  }
}
