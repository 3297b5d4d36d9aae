package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/** BFL's sinusoidal embedding of the timestep and of the distilled guidance strength. */
public final class TimestepEmbedding {
  private TimestepEmbedding() {}

  /** Scale from flow-matching time in [0, 1] to the range the embedding was trained on. */
  static final float TIME_FACTOR = 1000f;

  static final double MAX_PERIOD = 10_000;

  /**
   * {@code [cos(1000 t f), sin(1000 t f)]} with frequencies {@code f_j = exp(-ln(10000) j /
   * (dim/2))}, in float32 whatever the compute dtype, with a zero column appended for odd dims.
   *
   * @param t (B) timesteps (or guidance strengths)
   * @return (B, dim) float32, on t's manager
   */
  public static NDArray embed(NDArray t, int dim) {
    if (t.getShape().dimension() != 1) {
      throw new IllegalArgumentException("timesteps must have shape (B), got " + t.getShape());
    }
    NDManager m = t.getManager();
    int half = dim / 2;
    NDArray freqs =
        m.arange(0, half, 1, DataType.FLOAT32)
            .toDevice(t.getDevice(), false)
            .mul((float) -Math.log(MAX_PERIOD))
            .div(half); // (half)
    freqs = freqs.exp();
    NDArray args =
        t.toType(DataType.FLOAT32, false).mul(TIME_FACTOR).expandDims(1).mul(freqs.expandDims(0));
    NDArray emb = args.cos().concat(args.sin(), 1); // (B, 2*half)
    if (dim % 2 != 0) {
      emb = emb.concat(emb.get(":, :1").zerosLike(), 1);
    }
    return emb;
  }
}
