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

  /**
   * The engine's earlier e4m3fn narrowing, kept as the oracle: a binary search of the code table
   * for the nearest value, ties to the even code, saturating at 448.
   */
  private static byte searched(float v) {
    if (Float.isNaN(v)) {
      return 0x7f;
    }
    float[] table = Widening.E4M3FN;
    int maxCode = 0x7e;
    int sign = Float.floatToRawIntBits(v) < 0 ? 0x80 : 0;
    float a = Math.abs(v);
    int code;
    if (a >= table[maxCode]) {
      code = maxCode;
    } else {
      int lo = 0;
      int hi = maxCode;
      while (hi - lo > 1) {
        int mid = (lo + hi) >>> 1;
        if (table[mid] <= a) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      float below = a - table[lo];
      float above = table[hi] - a;
      code = below < above || (below == above && (lo & 1) == 0) ? lo : hi;
    }
    return (byte) (sign | code);
  }

  /** All 65,536 float16 values (bf16 and fp16 weights widen to these and to floats between). */
  @Test
  void e4m3fnOfEveryHalfValueIsTheTableSearchs() {
    for (int h = 0; h < 1 << 16; h++) {
      float v = Float.float16ToFloat((short) h);
      assertEquals(searched(v), Narrowing.e4m3fn(v), "half 0x" + Integer.toHexString(h) + " " + v);
    }
  }

  /** About a million float32 bit patterns spread over all of them, and bf16's 65,536 values. */
  @Test
  void e4m3fnAcrossFloat32IsTheTableSearchs() {
    for (long b = 0; b < 1L << 32; b += 4093) {
      float v = Float.intBitsToFloat((int) b);
      assertEquals(searched(v), Narrowing.e4m3fn(v), "bits 0x" + Long.toHexString(b) + " " + v);
    }
    for (int h = 0; h < 1 << 16; h++) {
      float v = Float.intBitsToFloat(h << 16);
      assertEquals(searched(v), Narrowing.e4m3fn(v), "bf16 0x" + Integer.toHexString(h));
    }
  }

  /**
   * One of the real model's largest block matrices (9216 × 2304, a feed-forward weight) narrowed as
   * the engine stores a 16-bit block in fp8: scale, divide, encode. Prints the time of the table
   * search and of the bit arithmetic (best of three each, no timing asserted) and checks that both
   * give the same codes.
   */
  @Test
  void narrowingARealSizedBlockMatrixIsTimed() {
    float[] w = new float[9216 * 2304];
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (r.nextGaussian() * 0.02);
    }
    float scale = Narrowing.e4m3fnScale(w);
    float[] scaled = new float[w.length];
    for (int i = 0; i < w.length; i++) {
      scaled[i] = w[i] / scale;
    }
    byte[] fast = null;
    byte[] slow = new byte[w.length];
    long fastNs = Long.MAX_VALUE;
    long slowNs = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long t0 = System.nanoTime();
      fast = Narrowing.encode(scaled, DType.F8_E4M3);
      fastNs = Math.min(fastNs, System.nanoTime() - t0);
      t0 = System.nanoTime();
      for (int i = 0; i < scaled.length; i++) {
        slow[i] = searched(scaled[i]);
      }
      slowNs = Math.min(slowNs, System.nanoTime() - t0);
    }
    System.out.printf(
        "e4m3fn narrowing of a 9216x2304 matrix: table search %.1f ms, bit arithmetic %.1f ms%n",
        slowNs / 1e6, fastNs / 1e6);
    assertArrayEquals(slow, fast);
  }
}
