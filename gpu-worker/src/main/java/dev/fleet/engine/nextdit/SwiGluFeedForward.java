package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;

/**
 * Next-DiT's feed-forward: {@code w2(silu(w1 x) · w3 x)}, no biases.
 *
 * @param w1 (F, D) gate
 * @param w2 (D, F) down
 * @param w3 (F, D) up
 */
record SwiGluFeedForward(Linear w1, Linear w2, Linear w3) {

  /** Loads {@code feed_forward.w1/w2/w3} of a block. */
  static SwiGluFeedForward load(ParameterLoader w, NextDitParams p, NDManager m) {
    long d = p.dim();
    long f = p.ffnDim();
    return new SwiGluFeedForward(
        new Linear(w.load("w1.weight", m, f, d), null),
        new Linear(w.load("w2.weight", m, d, f), null),
        new Linear(w.load("w3.weight", m, f, d), null));
  }

  /** This feed-forward with the adapters' side paths of {@code name.w1/w2/w3}. */
  SwiGluFeedForward adapted(Adapters a, String name) {
    return a == Adapters.NONE
        ? this
        : new SwiGluFeedForward(
            a.adapt(w1, name + ".w1"), a.adapt(w2, name + ".w2"), a.adapt(w3, name + ".w3"));
  }

  /** (..., D) to (..., D). */
  NDArray forward(NDArray x) {
    return w2.forward(Activations.silu(w1.forward(x)).mul(w3.forward(x)));
  }
}
