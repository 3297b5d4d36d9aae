package dev.fleet.engine.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Exact widening of the storage types DJL cannot hold (bfloat16, float8) to float32. */
public final class Widening {
  private Widening() {}

  /** float32 value of every e4m3fn byte (no infinities; 0x7f/0xff are NaN). */
  public static final float[] E4M3FN = buildE4m3fn();

  /** float32 value of every e5m2 byte (IEEE-like, with infinities and NaNs). */
  public static final float[] E5M2 = buildE5m2();

  private static float[] buildE4m3fn() {
    float[] t = new float[256];
    for (int b = 0; b < 256; b++) {
      int sign = (b >> 7) & 1;
      int exp = (b >> 3) & 0xf;
      int man = b & 0x7;
      float v;
      if (exp == 0xf && man == 0x7) {
        v = Float.NaN;
      } else if (exp == 0) {
        v = man / 8f * (float) Math.pow(2, -6);
      } else {
        v = (1 + man / 8f) * (float) Math.pow(2, exp - 7);
      }
      t[b] = sign == 1 ? -v : v;
    }
    return t;
  }

  private static float[] buildE5m2() {
    float[] t = new float[256];
    for (int b = 0; b < 256; b++) {
      // e5m2 is the top byte of an IEEE half: widen through float16.
      t[b] = Float.float16ToFloat((short) (b << 8));
    }
    return t;
  }

  /** bfloat16 little-endian bytes to a direct little-endian float32 buffer (bits << 16). */
  public static ByteBuffer bf16ToF32(ByteBuffer src) {
    ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int n = in.remaining() / 2;
    ByteBuffer out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
    for (int i = 0; i < n; i++) {
      out.putInt(i * 4, (in.getShort(in.position() + i * 2) & 0xffff) << 16);
    }
    return out;
  }
}
