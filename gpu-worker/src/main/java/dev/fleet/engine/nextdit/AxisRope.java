package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.RopeEmbedding;
import java.util.List;

/**
 * Next-DiT's rotary embedding over three position axes, on interleaved pairs: axis k of width d_k
 * rotates d_k / 2 pairs {@code (x[2j], x[2j+1])} by {@code pos_k · θ^(−2j/d_k)}; a head's pairs are
 * axis 0's, then axis 1's, then axis 2's. Angles are made in float64 and rounded to float32 as
 * NewBie's {@code precompute_freqs_cis} does; cos and sin are taken of the float32 angle. The pair
 * rotation itself is FLUX's ({@link RopeEmbedding#apply}), which rotates the same consecutive
 * pairs.
 */
final class AxisRope {
  private AxisRope() {}

  /**
   * The rotation table of a batch of token positions.
   *
   * @param positions (B·L·3) positions, row-major
   * @param zeroed (B·L) rows whose rotation is all zero (cos = sin = 0), or null
   * @return cos and sin of shape (B, 1, L, head_dim/2) on {@code manager}
   */
  static RopeEmbedding table(
      NDManager manager, int[] positions, boolean[] zeroed, int b, int l, List<Integer> axes) {
    int pairs = 0;
    for (int d : axes) {
      pairs += d / 2;
    }
    double[][] freqs = new double[axes.size()][];
    for (int a = 0; a < axes.size(); a++) {
      int d = axes.get(a);
      freqs[a] = new double[d / 2];
      for (int j = 0; j < d / 2; j++) {
        // 1 / theta ** (arange(0, d, 2, float64) / d)
        freqs[a][j] = 1.0 / Math.pow(NextDitParams.ROPE_THETA, (2.0 * j) / d);
      }
    }
    float[] cos = new float[b * l * pairs];
    float[] sin = new float[b * l * pairs];
    for (int row = 0; row < b * l; row++) {
      int o = row * pairs;
      if (zeroed != null && zeroed[row]) {
        continue; // cos = sin = 0
      }
      for (int a = 0; a < axes.size(); a++) {
        double pos = positions[row * 3 + a];
        for (double f : freqs[a]) {
          float angle = (float) (pos * f);
          cos[o] = (float) Math.cos(angle);
          sin[o] = (float) Math.sin(angle);
          o++;
        }
      }
    }
    Shape shape = new Shape(b, 1, l, pairs);
    return new RopeEmbedding(manager.create(cos, shape), manager.create(sin, shape));
  }
}
