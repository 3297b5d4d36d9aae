package dev.fleet.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fleet.engine.safetensors.TensorStore;
import java.nio.FloatBuffer;

/** Reading reference tensors and comparing them the way stcompare.py does (relative L2). */
public final class TensorAsserts {
  private TensorAsserts() {}

  /** An F32 tensor of a store as a flat array. */
  public static float[] floats(TensorStore s, String name) {
    FloatBuffer fb = s.bytes(name).asFloatBuffer();
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  /** ||actual - expected|| / ||expected||. */
  public static double relErr(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, "element count");
    double d = 0;
    double n = 0;
    for (int i = 0; i < expected.length; i++) {
      d += (actual[i] - expected[i]) * (double) (actual[i] - expected[i]);
      n += expected[i] * (double) expected[i];
    }
    return Math.sqrt(d / n);
  }
}
