package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;

/**
 * One T5 encoder block: {@code x + o(attn(ln(x)))} with unscaled attention and the shared position
 * bias, then {@code x + wo(gelu_tanh(wi_0(ln(x))) * wi_1(ln(x)))}.
 *
 * <p>Float16 follows transformers: {@code wo} is kept in float32 ({@code _keep_in_fp32_modules}),
 * so the feed-forward result and from then on the residual stream are float32; while the stream is
 * still float16 it is clamped after each sub-layer to the float16 range, 1000 below it once an
 * infinity has appeared.
 */
record T5Block(
    T5LayerNorm attnNorm,
    Linear q,
    Linear k,
    Linear v,
    Linear o,
    T5LayerNorm ffNorm,
    Linear wi0,
    Linear wi1,
    Linear wo,
    int heads) {

  private static final float FP16_MAX = 65504f;

  /** Loads {@code encoder.block.N}; {@code wo} in float32 whatever the compute dtype. */
  static T5Block load(Weights w, T5Config c, NDManager manager) {
    long d = c.dModel();
    long inner = c.innerDim();
    long ff = c.dFf();
    Weights attn = w.scoped("layer.0.SelfAttention");
    Weights dense = w.scoped("layer.1.DenseReluDense");
    ComputeTarget t = w.target();
    Weights denseF32 =
        new Weights(w.store(), new ComputeTarget(t.device(), DataType.FLOAT32))
            .scoped(w.prefix() + "layer.1.DenseReluDense");
    return new T5Block(
        T5LayerNorm.load(w, "layer.0.layer_norm.weight", d, c.layerNormEps(), manager),
        new Linear(attn.load("q.weight", manager, inner, d), null),
        new Linear(attn.load("k.weight", manager, inner, d), null),
        new Linear(attn.load("v.weight", manager, inner, d), null),
        new Linear(attn.load("o.weight", manager, d, inner), null),
        T5LayerNorm.load(w, "layer.1.layer_norm.weight", d, c.layerNormEps(), manager),
        new Linear(dense.load("wi_0.weight", manager, ff, d), null),
        new Linear(dense.load("wi_1.weight", manager, ff, d), null),
        new Linear(denseF32.load("wo.weight", manager, d, ff), null),
        c.heads());
  }

  /**
   * @param x (B, L, d_model), float32 or float16
   * @param bias (1, H, L, L) relative position bias
   * @return (B, L, d_model), float32 once the stream has passed a float32 {@code wo}
   */
  NDArray forward(NDArray x, NDArray bias) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x, bias);
      NDArray h = attnNorm.forward(x); // (B, L, d_model)
      NDArray qh = Attention.splitHeads(q.forward(h), heads); // (B, H, L, d_kv)
      NDArray kh = Attention.splitHeads(k.forward(h), heads);
      NDArray vh = Attention.splitHeads(v.forward(h), heads);
      NDArray attn = Attention.mergeHeads(Attention.sdpa(qh, kh, vh, bias, 1f)); // (B, L, H*d_kv)
      x = clampHalf(residual(x, o.forward(attn)));
      NDArray g = ffNorm.forward(x);
      NDArray gated = Activations.geluTanh(wi0.forward(g)).mul(wi1.forward(g)); // (B, L, d_ff)
      NDArray ff = wo.forward(gated.toType(wo.weight().getDataType(), false)); // (B, L, d_model)
      return scope.ret(clampHalf(residual(x, ff)));
    }
  }

  /** x + h in the wider of the two dtypes (torch's type promotion). */
  private static NDArray residual(NDArray x, NDArray h) {
    if (x.getDataType() == h.getDataType()) {
      return x.add(h);
    }
    return x.toType(DataType.FLOAT32, false).add(h.toType(DataType.FLOAT32, false));
  }

  /** transformers' float16 guard: clamp to the finite range, 1000 inside it after an overflow. */
  private static NDArray clampHalf(NDArray x) {
    if (x.getDataType() != DataType.FLOAT16) {
      return x;
    }
    float limit = x.isInfinite().any().getBoolean() ? FP16_MAX - 1000f : FP16_MAX;
    return x.clip(-limit, limit);
  }
}
