package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;

/** Element-wise activations in the exact forms the reference models use. */
public final class Activations {
  private Activations() {}

  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

  /** GELU with the tanh approximation ({@code approximate="tanh"}, T5's gelu_new, the DiT MLPs). */
  public static NDArray geluTanh(NDArray x) {
    NDArray inner = x.add(x.pow(3).mul(0.044715f)).mul(SQRT_2_OVER_PI);
    return x.mul(0.5f).mul(inner.tanh().add(1f));
  }

  /** CLIP's quick GELU: {@code x * sigmoid(1.702 x)}. */
  public static NDArray quickGelu(NDArray x) {
    return x.mul(x.mul(1.702f).getNDArrayInternal().sigmoid());
  }

  /** SiLU / swish: {@code x * sigmoid(x)}. */
  public static NDArray silu(NDArray x) {
    return x.mul(x.getNDArrayInternal().sigmoid());
  }
}
