package dev.fleet.engine.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class NarrowingTest {

  @Test
  void everyFiniteE4m3ValueNarrowsToItsOwnCode() {
    for (int code = 0; code < 256; code++) {
      float v = Widening.E4M3FN[code];
      if (!Float.isNaN(v)) {
        assertEquals(code, Narrowing.e4m3fn(v) & 0xff, "code 0x" + Integer.toHexString(code));
      }
    }
    assertEquals(0x7f, Narrowing.e4m3fn(Float.NaN));
  }

  @Test
  void e4m3RoundsToNearestTiesToEvenAndSaturates() {
    assertEquals(0x38, Narrowing.e4m3fn(1.0625f)); // halfway 1 and 1.125: even mantissa
    assertEquals(0x3a, Narrowing.e4m3fn(1.1875f)); // halfway 1.125 and 1.25
    assertEquals(0x39, Narrowing.e4m3fn(1.07f));
    assertEquals(0x00, Narrowing.e4m3fn((float) Math.pow(2, -10))); // half the smallest subnormal
    assertEquals(0x08, Narrowing.e4m3fn(0.0146484375f)); // 7.5 * 2^-9: tie to the normal 2^-6
    assertEquals(0x7e, Narrowing.e4m3fn(1e6f) & 0xff);
    assertEquals(0xfe, Narrowing.e4m3fn(Float.NEGATIVE_INFINITY) & 0xff);
    assertEquals(0xb8, Narrowing.e4m3fn(-1f) & 0xff);
  }

  @Test
  void bf16RoundsToNearestTiesToEven() {
    assertEquals(0x3f80, Narrowing.bf16(1f) & 0xffff);
    assertEquals(0x3f80, Narrowing.bf16(1f + 0x1p-8f) & 0xffff); // tie: stays even
    assertEquals(0x3f82, Narrowing.bf16(1f + 3 * 0x1p-8f) & 0xffff); // tie: up to even
    assertEquals(0x3f81, Narrowing.bf16(1f + 0x1p-8f + 0x1p-20f) & 0xffff);
    assertTrue(Float.isNaN(Float.intBitsToFloat(Narrowing.bf16(Float.NaN) << 16)));
    float[] values = new float[1000];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-6, 6)));
    }
    ByteBuffer wide = Widening.bf16ToF32(ByteBuffer.wrap(Narrowing.encode(values, DType.BF16)));
    for (int i = 0; i < values.length; i++) {
      float back = wide.getFloat(i * 4);
      assertTrue(
          Math.abs(back - values[i]) <= Math.abs(values[i]) * 0x1p-8f, values[i] + " " + back);
    }
  }

  @Test
  void float32BytesAreLittleEndianAndOtherTypesAreRefused() {
    float[] v = {1.5f, -2f};
    ByteBuffer expected = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    expected.putFloat(1.5f).putFloat(-2f);
    assertArrayEquals(expected.array(), Narrowing.encode(v, DType.F32));
    var e = assertThrows(IllegalArgumentException.class, () -> Narrowing.encode(v, DType.F16));
    assertTrue(e.getMessage().contains("F16"), e.getMessage());
  }
}
