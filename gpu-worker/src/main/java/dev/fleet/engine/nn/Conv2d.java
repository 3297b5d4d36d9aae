package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.weights.Weights;

/**
 * A 2-D convolution as PyTorch's {@code nn.Conv2d} stores it (square kernel, symmetric zero
 * padding, no dilation, one group).
 *
 * @param weight (out, in, k, k)
 * @param bias (out), or null
 */
public record Conv2d(NDArray weight, NDArray bias, int stride, int padding) {

  public Conv2d {
    if (weight.getShape().dimension() != 4) {
      throw new IllegalArgumentException(
          "conv weight must be (out, in, k, k), got " + weight.getShape());
    }
    if (stride < 1 || padding < 0) {
      throw new IllegalArgumentException(
          "conv stride must be >= 1 and padding >= 0, got stride "
              + stride
              + ", padding "
              + padding);
    }
  }

  /**
   * Loads {@code name.weight}, checked against (out, in, k, k), and {@code name.bias}, checked
   * against (out); {@code nn.Conv2d} has a bias by default, so a missing one is an error naming its
   * key rather than a silently bias-free layer.
   */
  public static Conv2d load(
      Weights w,
      String name,
      NDManager manager,
      long outChannels,
      long inChannels,
      int kernel,
      int stride,
      int padding) {
    NDArray weight = w.load(name + ".weight", manager, outChannels, inChannels, kernel, kernel);
    NDArray bias = w.load(name + ".bias", manager, outChannels);
    return new Conv2d(weight, bias, stride, padding);
  }

  /** (B, in, H, W) -> (B, out, H', W') */
  public NDArray forward(NDArray x) {
    Shape stride2 = new Shape(stride, stride);
    Shape padding2 = new Shape(padding, padding);
    Shape dilation = new Shape(1, 1);
    return ai.djl.nn.convolutional.Conv2d.conv2d(x, weight, bias, stride2, padding2, dilation, 1)
        .singletonOrThrow();
  }

  public long outChannels() {
    return weight.getShape().get(0);
  }

  public long inChannels() {
    return weight.getShape().get(1);
  }
}
