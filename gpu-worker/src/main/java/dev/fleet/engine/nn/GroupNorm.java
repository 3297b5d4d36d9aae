package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.weights.Weights;

/**
 * Group normalisation over (B, C, ...) tensors as PyTorch's {@code nn.GroupNorm(affine=True)}:
 * statistics per sample and group of C / groups channels, taken in float32 whatever the compute
 * dtype (fp16 sums over a 1024x1024 activation would lose the mean).
 *
 * @param gamma (C, 1, 1) scale, already shaped to broadcast over (B, C, H, W)
 * @param beta (C, 1, 1) shift
 */
public record GroupNorm(NDArray gamma, NDArray beta, int groups, float eps) {

  public GroupNorm {
    long channels = gamma.getShape().get(0);
    if (groups < 1 || channels % groups != 0) {
      throw new IllegalArgumentException(
          "group norm: " + channels + " channels do not split into " + groups + " groups");
    }
    if (!gamma.getShape().equals(beta.getShape())) {
      throw new IllegalArgumentException(
          "group norm: gamma " + gamma.getShape() + " and beta " + beta.getShape() + " differ");
    }
  }

  /**
   * Loads {@code name.weight} and {@code name.bias}, both checked against (channels), and shapes
   * them (C, 1, 1) once so that the forward creates nothing on the model's manager. The (C)
   * originals stay attached to the manager: on CPU they may alias the memory-mapped file, and their
   * Java objects are what keep that mapping alive for the reshaped views.
   */
  public static GroupNorm load(
      Weights w, String name, NDManager manager, long channels, int groups, float eps) {
    if (channels % groups != 0) {
      throw new IllegalArgumentException(
          name + ": " + channels + " channels do not split into " + groups + " groups");
    }
    NDArray gamma = w.load(name + ".weight", manager, channels).reshape(channels, 1, 1);
    NDArray beta = w.load(name + ".bias", manager, channels).reshape(channels, 1, 1);
    return new GroupNorm(gamma, beta, groups, eps);
  }

  /** (B, C, H, W) -> (B, C, H, W), in the dtype of x. */
  public NDArray forward(NDArray x) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      Shape shape = x.getShape();
      long channels = shape.get(1);
      if (channels != gamma.getShape().get(0)) {
        throw new IllegalArgumentException(
            "group norm over " + gamma.getShape().get(0) + " channels got input " + shape);
      }
      NDArray grouped = x.toType(DataType.FLOAT32, false).reshape(shape.get(0), groups, -1);
      // (B, G, C/G*H*W): a layer norm over the last axis is the group norm's normalisation.
      long perGroup = grouped.getShape().get(2);
      Shape normalized = new Shape(perGroup);
      // DJL's layerNorm requires an affine pair; identity ones/zeros cost 1/G of the activation.
      NDArray ones = scope.ones(normalized, DataType.FLOAT32);
      NDArray zeros = scope.zeros(normalized, DataType.FLOAT32);
      NDArray normed =
          ai.djl.nn.norm.LayerNorm.layerNorm(grouped, normalized, ones, zeros, eps)
              .singletonOrThrow();
      NDArray out = normed.reshape(shape).toType(x.getDataType(), false).mul(gamma).add(beta);
      return scope.ret(out);
    }
  }

  public long channels() {
    return gamma.getShape().get(0);
  }
}
