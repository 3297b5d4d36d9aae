package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary embedding in the "rotate_half" convention of transformers' Gemma and of the Jina XLM-R
 * tower: dimension j of the first half pairs with j + d/2, angles {@code pos · inv_freq[j]} for
 * positions 0 … L−1, {@code x·cos + rotate_half(x)·sin}. Angles are float32 products as torch forms
 * them; the rotation runs in float32.
 *
 * @param cos (1, 1, L, d) float32
 * @param sin (1, 1, L, d) float32
 */
record HalfRope(NDArray cos, NDArray sin) {

  /** {@code 1 / base^(2j/d)} in float32, divided by {@code factor} (linear scaling). */
  static float[] inverseFrequencies(int headDim, double base, double factor) {
    float[] inv = new float[headDim / 2];
    for (int j = 0; j < inv.length; j++) {
      float exponent = (float) (2 * j) / headDim;
      float v = 1f / (float) Math.pow(base, exponent);
      inv[j] = factor == 1 ? v : (float) (v / factor);
    }
    return inv;
  }

  /** The table for positions 0 … length−1. */
  static HalfRope of(NDManager manager, float[] inv, int length) {
    int half = inv.length;
    int d = 2 * half;
    float[] cos = new float[length * d];
    float[] sin = new float[length * d];
    for (int p = 0; p < length; p++) {
      for (int j = 0; j < half; j++) {
        float angle = (float) p * inv[j];
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[p * d + j] = c;
        cos[p * d + half + j] = c;
        sin[p * d + j] = s;
        sin[p * d + half + j] = s;
      }
    }
    Shape shape = new Shape(1, 1, length, d);
    return new HalfRope(manager.create(cos, shape), manager.create(sin, shape));
  }

  /**
   * @param x (B, H, L, d)
   * @return (B, H, L, d) in x's dtype
   */
  NDArray apply(NDArray x) {
    long d = x.getShape().get(3);
    NDArray xf = x.toType(DataType.FLOAT32, false);
    NDArray x1 = xf.get("..., :{}", d / 2);
    NDArray x2 = xf.get("..., {}:", d / 2);
    NDArray rotated = x2.neg().concat(x1, 3);
    return xf.mul(cos).add(rotated.mul(sin)).toType(x.getDataType(), false);
  }
}
