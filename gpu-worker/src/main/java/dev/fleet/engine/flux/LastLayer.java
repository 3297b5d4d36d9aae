package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;

/**
 * The output head (BFL's {@code LastLayer}): adaLN shift and scale from the conditioning vector,
 * then a linear map to the output channels.
 *
 * @param adaLn {@code adaLN_modulation.1} (2*hidden, hidden): shift rows first, then scale
 * @param linear (out, hidden)
 */
public record LastLayer(Linear adaLn, Linear linear) {

  private static final LayerNorm NORM_FINAL = LayerNorm.plain(1e-6f);

  /** Loads {@code name.adaLN_modulation.1} and {@code name.linear}. */
  public static LastLayer load(ParameterLoader w, String name, NDManager m, FluxParams p) {
    int hidden = p.dims().hiddenSize();
    return new LastLayer(
        ShapedLoad.linear(w, name + ".adaLN_modulation.1", m, 2L * hidden, hidden, true),
        ShapedLoad.linear(w, name + ".linear", m, p.dims().outChannels(), hidden, true));
  }

  /** This head with the side paths of {@code name.adaLN_modulation.1} and {@code name.linear}. */
  public LastLayer adapted(Adapters a, String name) {
    return a == Adapters.NONE
        ? this
        : new LastLayer(
            a.adapt(adaLn, name + ".adaLN_modulation.1"), a.adapt(linear, name + ".linear"));
  }

  /**
   * @param x (B, L, hidden)
   * @param vec (B, hidden)
   * @return (B, L, out)
   */
  public NDArray forward(NDArray x, NDArray vec) {
    NDList shiftScale =
        adaLn.forward(Activations.silu(vec)).expandDims(1).split(2, 2); // (B, 1, hidden) each
    NDArray shift = shiftScale.get(0); // (B, 1, hidden)
    NDArray scale = shiftScale.get(1);
    return linear.forward(NORM_FINAL.forward(x).mul(scale.add(1f)).add(shift));
  }
}
