package dev.fleet.engine.flux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

  @Test
  void float16OverflowIsClampedToTheLargestHalf() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray half =
          m.create(new float[] {1e6f, -1e6f, 1.5f, 65504f}).toType(DataType.FLOAT16, false);
      float[] clamped =
          HalfPrecision.clampIfHalf(half).toType(DataType.FLOAT32, false).toFloatArray();
      assertArrayEquals(new float[] {65504f, -65504f, 1.5f, 65504f}, clamped);
    }
  }

  @Test
  void float32IsLeftAlone() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray x = m.create(new float[] {1e6f});
      assertSame(x, HalfPrecision.clampIfHalf(x));
    }
  }
}
