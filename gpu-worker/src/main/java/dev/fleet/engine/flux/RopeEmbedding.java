package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import java.util.List;

/**
 * Rotary position embedding over several position axes (BFL's {@code EmbedND}, {@code rope} and
 * {@code apply_rope}). BFL keeps 2x2 rotation matrices {@code [[cos, -sin], [sin, cos]]}; this
 * keeps their two distinct entries, which gives the same products. Angles are float32 as in BFL
 * (its ids are float32), and the rotation runs in float32 whatever the compute dtype.
 *
 * @param cos (B, 1, L, D/2) float32
 * @param sin (B, 1, L, D/2) float32
 */
public record RopeEmbedding(NDArray cos, NDArray sin) {

  /**
   * The embedding of token positions: axis {@code a} of the ids takes {@code axesDim[a]} of the
   * head dimension, with frequencies {@code theta^(-2j / axesDim[a])}.
   *
   * @param ids (B, L, A) positions, any numeric dtype; A == axesDim.size()
   */
  public static RopeEmbedding of(NDArray ids, List<Integer> axesDim, int theta) {
    long[] s = ids.getShape().getShape();
    if (s.length != 3 || s[2] != axesDim.size()) {
      throw new IllegalArgumentException(
          "position ids must have shape (B, L, " + axesDim.size() + "), got " + ids.getShape());
    }
    NDArray pos = ids.toType(DataType.FLOAT32, false);
    NDList angles = new NDList(axesDim.size());
    for (int a = 0; a < axesDim.size(); a++) {
      NDArray omega =
          ids.getManager()
              .create(frequencies(axesDim.get(a), theta))
              .toDevice(pos.getDevice(), false);
      angles.add(pos.get(new NDIndex(":, :, {}", a)).expandDims(2).mul(omega)); // (B, L, d/2)
    }
    NDArray all = NDArrays.concat(angles, 2).expandDims(1); // (B, 1, L, D/2)
    return new RopeEmbedding(all.cos(), all.sin());
  }

  /** {@code 1 / theta^(2j/dim)} for j < dim/2, rounded through float32 as torch computes it. */
  static float[] frequencies(int dim, int theta) {
    float[] omega = new float[dim / 2];
    for (int j = 0; j < omega.length; j++) {
      float scale = (float) (2 * j) / dim;
      omega[j] = 1f / (float) Math.pow(theta, scale);
    }
    return omega;
  }

  /**
   * Rotates consecutive pairs of the head dimension: {@code (x0, x1) -> (cos x0 - sin x1, sin x0 +
   * cos x1)}.
   *
   * @param x (B, H, L, D)
   * @return (B, H, L, D) in x's dtype
   */
  public NDArray apply(NDArray x) {
    long[] s = x.getShape().getShape();
    NDArray pairs = x.toType(DataType.FLOAT32, false).reshape(s[0], s[1], s[2], s[3] / 2, 2);
    NDArray x0 = pairs.get("..., 0"); // (B, H, L, D/2)
    NDArray x1 = pairs.get("..., 1");
    NDArray r0 = x0.mul(cos).sub(x1.mul(sin));
    NDArray r1 = x0.mul(sin).add(x1.mul(cos));
    return r0.stack(r1, 4).reshape(s).toType(x.getDataType(), false);
  }
}
