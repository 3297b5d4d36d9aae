package dev.fleet.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.FloatBuffer;

/**
 * Tensors of the engine as float arrays, for {@link dev.fleet.testing.TensorAssert} (relative L2,
 * as stcompare.py measures it) and {@link dev.fleet.testing.ImageAssert}, shared by every module's
 * tests.
 */
public final class TensorAsserts {
  private TensorAsserts() {}

  /** An F32 tensor of a store as a flat array. */
  public static float[] floats(TensorStore s, String name) {
    FloatBuffer fb = s.bytes(name).asFloatBuffer();
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  /** Any floating-point array's values as float32, flat. */
  public static float[] floats(NDArray a) {
    return a.toType(DataType.FLOAT32, false).toFloatArray();
  }
}
