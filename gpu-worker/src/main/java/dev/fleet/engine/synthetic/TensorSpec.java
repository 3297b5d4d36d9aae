package dev.fleet.engine.synthetic;

import java.util.Arrays;

/**
 * One tensor of a checkpoint layout: its key, its shape and how a synthetic model fills it.
 *
 * @param name the key in the checkpoint
 * @param shape the dimensions, outermost first
 * @param fill how {@link SyntheticModelWriter} fills it
 * @param std the standard deviation of a {@link Fill#NORMAL} fill (0 otherwise)
 */
public record TensorSpec(String name, long[] shape, Fill fill, float std) {

  /** Synthetic contents: seeded normal values, or the constants a fresh norm layer holds. */
  public enum Fill {
    NORMAL,
    ONES,
    ZEROS
  }

  /** Bias values: small, so that they shift activations without dominating them. */
  static final float BIAS_STD = 0.02f;

  public TensorSpec {
    shape = shape.clone();
    for (long d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(
            name + ": dimensions must be positive, got " + Arrays.toString(shape));
      }
    }
    if (fill == Fill.NORMAL ? !(std > 0 && Float.isFinite(std)) : std != 0) {
      throw new IllegalArgumentException(name + ": " + fill + " with std " + std);
    }
  }

  /**
   * A weight whose fan-in is every dimension but the first (linear and convolution kernels), drawn
   * with std {@code 1/sqrt(fan_in)} so that an output has about the variance of an input.
   */
  static TensorSpec weight(String name, long... shape) {
    long fanIn = 1;
    for (int i = 1; i < shape.length; i++) {
      fanIn *= shape[i];
    }
    return normal(name, (float) (1 / Math.sqrt(fanIn)), shape);
  }

  static TensorSpec bias(String name, long size) {
    return normal(name, BIAS_STD, size);
  }

  static TensorSpec normal(String name, float std, long... shape) {
    return new TensorSpec(name, shape, Fill.NORMAL, std);
  }

  static TensorSpec ones(String name, long... shape) {
    return new TensorSpec(name, shape, Fill.ONES, 0);
  }

  static TensorSpec zeros(String name, long... shape) {
    return new TensorSpec(name, shape, Fill.ZEROS, 0);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  /** The number of elements (parameters). */
  public long elements() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t
        && name.equals(t.name)
        && Arrays.equals(shape, t.shape)
        && fill == t.fill
        && Float.compare(std, t.std) == 0;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name
        + " "
        + Arrays.toString(shape)
        + " "
        + fill
        + (fill == Fill.NORMAL ? "(" + std + ")" : "");
  }
}
