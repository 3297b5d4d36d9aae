package dev.fleet.engine.weights;

import dev.fleet.engine.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * float32 values to the storage types of FLUX checkpoints, rounding to nearest with ties to even
 * (as PyTorch's {@code .to(torch.bfloat16)} and {@code .to(torch.float8_e4m3fn)} do); the inverse
 * of {@link Widening}. The synthetic checkpoints are written with it, and the engine narrows a 16-
 * or 32-bit DiT's block matrices to e4m3fn with it when a plan stores blocks in float8.
 */
public final class Narrowing {
  /** The largest finite e4m3fn magnitude, code 0x7e. */
  private static final int E4M3_MAX_CODE = 0x7e;

  /** float32 bits of 448, e4m3fn's largest finite magnitude. */
  private static final int E4M3_MAX_BITS = 0x43e00000;

  /** float32 bits of 2^-6, e4m3fn's smallest normal magnitude (code 0x08). */
  private static final int E4M3_MIN_NORMAL_BITS = 0x3c800000;

  /** The largest finite e5m2 magnitude (57344), code 0x7b; 0x7c is infinity. */
  private static final int E5M2_MAX_CODE = 0x7b;

  private Narrowing() {}

  /** Little-endian bytes of {@code values} in {@code dtype} (F32, BF16, F8_E4M3 or F8_E5M2). */
  public static byte[] encode(float[] values, DType dtype) {
    switch (dtype) {
      case F8_E4M3, F8_E5M2 -> {
        byte[] codes = new byte[values.length];
        boolean e4m3 = dtype == DType.F8_E4M3;
        for (int i = 0; i < values.length; i++) {
          codes[i] = e4m3 ? e4m3fn(values[i]) : e5m2(values[i]);
        }
        return codes;
      }
      case F32, BF16 -> {
        ByteBuffer out =
            ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        if (dtype == DType.F32) {
          out.asFloatBuffer().put(values);
        } else {
          for (float v : values) {
            out.putShort(bf16(v));
          }
        }
        return out.array();
      }
      default ->
          throw new IllegalArgumentException(
              "cannot store synthetic weights as " + dtype + "; use F32, BF16, F8_E4M3 or F8_E5M2");
    }
  }

  /**
   * The per-tensor factor that maps the largest magnitude of {@code values} onto e4m3fn's largest
   * finite value (448): dividing by it before narrowing spends e4m3fn's 3-bit mantissa on the
   * tensor's own range instead of flushing small weights (|w| ≲ 0.02 is subnormal in e4m3fn) to a
   * few codes. 1 when every value is zero; an infinite or NaN value is an error, since no scale
   * keeps it.
   *
   * @throws IllegalArgumentException when a value is not finite
   */
  public static float e4m3fnScale(float[] values) {
    float max = 0;
    for (float v : values) {
      if (!Float.isFinite(v)) {
        throw new IllegalArgumentException("cannot narrow " + v + " to float8: not finite");
      }
      max = Math.max(max, Math.abs(v));
    }
    return max == 0 ? 1f : max / Widening.E4M3FN[E4M3_MAX_CODE];
  }

  /** bfloat16 bits of {@code v}: the top half of its float32 bits, rounded (NaN stays NaN). */
  public static short bf16(float v) {
    int bits = Float.floatToRawIntBits(v);
    if (Float.isNaN(v)) {
      return (short) ((bits >>> 16) | 0x40); // keep it a (quiet) NaN
    }
    int lsb = (bits >>> 16) & 1;
    return (short) ((bits + 0x7fff + lsb) >>> 16);
  }

  /**
   * e4m3fn code of {@code v}, rounded to nearest with ties to even. Magnitudes beyond 448 saturate
   * to ±448: e4m3fn has no infinities, and a synthetic weight that large is a scale mistake better
   * kept finite than turned into NaN.
   *
   * <p>Computed on the float32 bits, no table search (the engine narrows billions of weights when
   * it stores a 16- or 32-bit DiT's blocks in fp8): a normal result keeps the top 3 of the 23
   * mantissa bits, rounded by adding 0x7ffff plus the lowest kept bit before the shift (a carry
   * moves into the exponent, as it should), and its exponent rebiased from 127 to 7; below 2^-6,
   * e4m3fn's subnormals are the multiples of 2^-9, so the code is v·2^9 rounded to an integer
   * (exact in float, ties to even), 8 meaning 2^-6.
   */
  public static byte e4m3fn(float v) {
    int bits = Float.floatToRawIntBits(v);
    int abs = bits & 0x7fffffff;
    if (abs > 0x7f800000) {
      return 0x7f; // NaN
    }
    int sign = (bits >>> 24) & 0x80;
    int code;
    if (abs >= E4M3_MAX_BITS) {
      code = E4M3_MAX_CODE;
    } else if (abs < E4M3_MIN_NORMAL_BITS) {
      code = (int) Math.rint(Float.intBitsToFloat(abs) * 512f);
    } else {
      int rounded = abs + 0x7ffff + ((abs >>> 20) & 1);
      code = (rounded >>> 20) - ((127 - 7) << 3);
    }
    return (byte) (sign | code);
  }

  /**
   * e5m2 code of {@code v}, rounded to nearest with ties to even; magnitudes beyond 57344 saturate
   * (as {@link #e4m3fn}).
   */
  public static byte e5m2(float v) {
    if (Float.isNaN(v)) {
      return 0x7f;
    }
    return nearest(v, Widening.E5M2, E5M2_MAX_CODE);
  }

  /** The code of {@code table} nearest {@code v}; codes 0..maxCode ascend with the value. */
  private static byte nearest(float v, float[] table, int maxCode) {
    int sign = Float.floatToRawIntBits(v) < 0 ? 0x80 : 0;
    float a = Math.abs(v);
    int code;
    if (a >= table[maxCode]) {
      code = maxCode;
    } else {
      int lo = 0; // table[lo] <= a < table[hi]
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
}
