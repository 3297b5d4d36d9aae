package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;

/**
 * The two-layer embedder of the conditioning vectors: {@code out_layer(silu(in_layer(x)))}.
 *
 * @param inLayer (hidden, in)
 * @param outLayer (hidden, hidden)
 */
public record MlpEmbedder(Linear inLayer, Linear outLayer) {

  /** Loads {@code name.in_layer} and {@code name.out_layer}. */
  public static MlpEmbedder load(
      ParameterLoader w, String name, NDManager m, int inDim, int hidden) {
    return new MlpEmbedder(
        ShapedLoad.linear(w, name + ".in_layer", m, hidden, inDim, true),
        ShapedLoad.linear(w, name + ".out_layer", m, hidden, hidden, true));
  }

  /** This embedder with the side paths of {@code name.in_layer} and {@code name.out_layer}. */
  public MlpEmbedder adapted(Adapters a, String name) {
    return a == Adapters.NONE
        ? this
        : new MlpEmbedder(
            a.adapt(inLayer, name + ".in_layer"), a.adapt(outLayer, name + ".out_layer"));
  }

  /** (B, in) -> (B, hidden) */
  public NDArray forward(NDArray x) {
    return outLayer.forward(Activations.silu(inLayer.forward(x)));
  }
}
