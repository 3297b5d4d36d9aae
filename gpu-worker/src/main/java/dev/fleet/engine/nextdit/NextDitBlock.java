package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.flux.RopeEmbedding;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;

/**
 * One Next-DiT block ({@code JointTransformerBlock}) with sandwich RMS norms. With modulation
 * (noise refiner, joint layers): {@code scale_msa, gate_msa, scale_mlp, gate_mlp =
 * adaLN_modulation.1(SiLU(c))} (no shift), {@code x += tanh(gate_msa) · norm2(Attn(norm1(x) · (1 +
 * scale_msa)))} and the same for the FFN; without (context refiner) no scale and no gate.
 *
 * @param modulation {@code adaLN_modulation.1} (4·D, A), or null for an unmodulated block
 */
record NextDitBlock(
    GroupedAttention attention,
    SwiGluFeedForward feedForward,
    RmsNorm attentionNorm1,
    RmsNorm attentionNorm2,
    RmsNorm ffnNorm1,
    RmsNorm ffnNorm2,
    Linear modulation) {

  /**
   * Loads one block.
   *
   * @param w the block's parameters, scoped to e.g. {@code layers.3}
   * @param modulated whether the block has {@code adaLN_modulation}
   */
  static NextDitBlock load(ParameterLoader w, NextDitParams p, NDManager m, boolean modulated) {
    long d = p.dim();
    return new NextDitBlock(
        GroupedAttention.load(w.scoped("attention"), p, m),
        SwiGluFeedForward.load(w.scoped("feed_forward"), p, m),
        norm(w, "attention_norm1", m, p),
        norm(w, "attention_norm2", m, p),
        norm(w, "ffn_norm1", m, p),
        norm(w, "ffn_norm2", m, p),
        modulated
            ? new Linear(
                w.load("adaLN_modulation.1.weight", m, 4 * d, p.adalnDim()),
                w.load("adaLN_modulation.1.bias", m, 4 * d))
            : null);
  }

  /**
   * This block with the adapters' side paths of its linear layers, by NewBie's names under {@code
   * name} (e.g. {@code layers.3}: {@code layers.3.attention.qkv}, {@code layers.3.feed_forward.w2},
   * {@code layers.3.adaLN_modulation.1}); the weights are shared, so a resident, streamed or
   * float8-widened block is adapted alike, in the compute dtype.
   */
  NextDitBlock adapted(Adapters a, String name) {
    if (a == Adapters.NONE) {
      return this;
    }
    return new NextDitBlock(
        attention.adapted(a, name + ".attention"),
        feedForward.adapted(a, name + ".feed_forward"),
        attentionNorm1,
        attentionNorm2,
        ffnNorm1,
        ffnNorm2,
        modulation == null ? null : a.adapt(modulation, name + ".adaLN_modulation.1"));
  }

  private static RmsNorm norm(ParameterLoader w, String name, NDManager m, NextDitParams p) {
    return new RmsNorm(w.load(name + ".weight", m, p.dim()), p.normEps());
  }

  /**
   * @param x (B, L, D)
   * @param rope rotations of the L rows
   * @param keyBias additive (B, 1, 1, L) key mask, or null
   * @param c (B, A) conditioning vector; ignored (may be null) when the block is unmodulated
   * @param chunk attention query rows per call, 0 for all at once
   * @return (B, L, D) on x's manager
   */
  NDArray forward(NDArray x, RopeEmbedding rope, NDArray keyBias, NDArray c, int chunk) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(c == null ? new NDArray[] {x} : new NDArray[] {x, c});
      NDArray out;
      if (modulation != null) {
        long d = x.getShape().get(2);
        NDArray mod = modulation.forward(Activations.silu(c)).expandDims(1); // (B, 1, 4D)
        NDArray scaleMsa = mod.get(":, :, :{}", d).add(1f);
        NDArray gateMsa = mod.get(":, :, {}:{}", d, 2 * d).tanh();
        NDArray scaleMlp = mod.get(":, :, {}:{}", 2 * d, 3 * d).add(1f);
        NDArray gateMlp = mod.get(":, :, {}:", 3 * d).tanh();
        NDArray a =
            attentionNorm2.forward(
                attention.forward(attentionNorm1.forward(x).mul(scaleMsa), rope, keyBias, chunk));
        NDArray h = x.add(a.mul(gateMsa));
        NDArray f = ffnNorm2.forward(feedForward.forward(ffnNorm1.forward(h).mul(scaleMlp)));
        out = h.add(f.mul(gateMlp));
      } else {
        NDArray a =
            attentionNorm2.forward(
                attention.forward(attentionNorm1.forward(x), rope, keyBias, chunk));
        NDArray h = x.add(a);
        out = h.add(ffnNorm2.forward(feedForward.forward(ffnNorm1.forward(h))));
      }
      return scope.ret(out);
    }
  }
}
