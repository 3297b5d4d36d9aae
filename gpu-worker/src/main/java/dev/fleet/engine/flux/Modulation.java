package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;

/**
 * adaLN modulation from the conditioning vector: {@code lin(silu(vec))} cut into (shift, scale,
 * gate) triples, two for a double-stream block and one for a single-stream block.
 *
 * @param lin (triples * 3 * hidden, hidden)
 * @param triples 2 (double) or 1 (single)
 */
public record Modulation(Linear lin, int triples) {

  /**
   * One (shift, scale, gate) triple.
   *
   * @param shift (B, 1, hidden)
   * @param scale (B, 1, hidden)
   * @param gate (B, 1, hidden)
   */
  public record Out(NDArray shift, NDArray scale, NDArray gate) {

    /** {@code (1 + scale) * normed + shift} */
    public NDArray modulate(NDArray normed) {
      return normed.mul(scale.add(1f)).add(shift);
    }

    /** {@code residual + gate * update} */
    public NDArray gatedAdd(NDArray residual, NDArray update) {
      return residual.add(update.mul(gate));
    }
  }

  /** Loads {@code name.lin}. */
  public static Modulation load(
      ParameterLoader w, String name, NDManager m, int hidden, boolean isDouble) {
    int triples = isDouble ? 2 : 1;
    return new Modulation(
        ShapedLoad.linear(w, name + ".lin", m, 3L * triples * hidden, hidden, true), triples);
  }

  /** This modulation with the side path of {@code name.lin}. */
  public Modulation adapted(Adapters a, String name) {
    return a == Adapters.NONE ? this : new Modulation(a.adapt(lin, name + ".lin"), triples);
  }

  /** vec (B, hidden) -> the triples in BFL's order. */
  public Out[] forward(NDArray vec) {
    NDList chunks = lin.forward(Activations.silu(vec)).expandDims(1).split(3L * triples, 2);
    Out[] out = new Out[triples];
    for (int i = 0; i < triples; i++) {
      out[i] = new Out(chunks.get(3 * i), chunks.get(3 * i + 1), chunks.get(3 * i + 2));
    }
    return out;
  }
}
