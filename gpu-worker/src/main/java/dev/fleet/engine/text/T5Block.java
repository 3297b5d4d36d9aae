package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
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

  /** The key of the feed-forward output projection, held in float32 whatever the compute dtype. */
  static final String WO = "layer.1.DenseReluDense.wo.weight";

  /**
   * {@code encoder.block.N} of a checkpoint: every tensor in the compute dtype but {@link #WO}, in
   * float32.
   *
   * @param block the weights scoped to the block
   */
  static ParameterLoader parameters(Weights block) {
    ComputeTarget t = block.target();
    Weights f32 = new Weights(block.store(), new ComputeTarget(t.device(), DataType.FLOAT32));
    return (key, manager, shape) ->
        WO.equals(key)
            ? f32.load(block.prefix() + key, manager, shape)
            : block.load(key, manager, shape);
  }

  /** Loads a block from {@code w} (see {@link #parameters}), by keys relative to the block. */
  static T5Block load(ParameterLoader w, T5Config c, NDManager manager) {
    long d = c.dims().dModel();
    long inner = c.dims().innerDim();
    long ff = c.dims().dFf();
    float eps = c.layerNormEps();
    String attn = "layer.0.SelfAttention.";
    String dense = "layer.1.DenseReluDense.";
    return new T5Block(
        new T5LayerNorm(w.load("layer.0.layer_norm.weight", manager, d), eps),
        new Linear(w.load(attn + "q.weight", manager, inner, d), null),
        new Linear(w.load(attn + "k.weight", manager, inner, d), null),
        new Linear(w.load(attn + "v.weight", manager, inner, d), null),
        new Linear(w.load(attn + "o.weight", manager, d, inner), null),
        new T5LayerNorm(w.load("layer.1.layer_norm.weight", manager, d), eps),
        new Linear(w.load(dense + "wi_0.weight", manager, ff, d), null),
        new Linear(w.load(dense + "wi_1.weight", manager, ff, d), null),
        new Linear(w.load(WO, manager, d, ff), null),
        c.dims().heads());
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
