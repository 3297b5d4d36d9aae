package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;

/**
 * One Gemma 3 decoder layer ({@code Gemma3DecoderLayer}, eager attention): sandwich RMS norms of
 * the form {@code x̂ · (1 + w)} (held here as their 1 + w scales), per-head q/k RMS norms before
 * the rotate-half RoPE, grouped-query attention scaled by {@code query_pre_attn_scalar^−½}, and a
 * GeGLU MLP {@code down(gelu_tanh(gate(x)) · up(x))}.
 */
record Gemma3Layer(
    RmsNorm inputNorm,
    Linear qProj,
    Linear kProj,
    Linear vProj,
    Linear oProj,
    RmsNorm qNorm,
    RmsNorm kNorm,
    RmsNorm postAttentionNorm,
    RmsNorm preFeedforwardNorm,
    Linear gateProj,
    Linear upProj,
    Linear downProj,
    RmsNorm postFeedforwardNorm,
    Gemma3Config config) {

  /** Loads {@code layers.N.*}. */
  static Gemma3Layer load(ParameterLoader w, Gemma3Config c, NDManager m) {
    long h = c.hiddenSize();
    long q = (long) c.heads() * c.headDim();
    long kv = (long) c.kvHeads() * c.headDim();
    long f = c.intermediateSize();
    return new Gemma3Layer(
        norm(w, "input_layernorm", m, h, c),
        new Linear(w.load("self_attn.q_proj.weight", m, q, h), null),
        new Linear(w.load("self_attn.k_proj.weight", m, kv, h), null),
        new Linear(w.load("self_attn.v_proj.weight", m, kv, h), null),
        new Linear(w.load("self_attn.o_proj.weight", m, h, q), null),
        norm(w, "self_attn.q_norm", m, c.headDim(), c),
        norm(w, "self_attn.k_norm", m, c.headDim(), c),
        norm(w, "post_attention_layernorm", m, h, c),
        norm(w, "pre_feedforward_layernorm", m, h, c),
        new Linear(w.load("mlp.gate_proj.weight", m, f, h), null),
        new Linear(w.load("mlp.up_proj.weight", m, f, h), null),
        new Linear(w.load("mlp.down_proj.weight", m, h, f), null),
        norm(w, "post_feedforward_layernorm", m, h, c),
        c);
  }

  /**
   * Gemma's RMSNorm: the stored weight w scales as 1 + w; only 1 + w is kept (the stored weight is
   * freed, so that the model holds what the memory model counts).
   */
  private static RmsNorm norm(
      ParameterLoader w, String name, NDManager m, long dim, Gemma3Config c) {
    NDArray stored = w.load(name + ".weight", m, dim);
    NDArray onePlus = stored.add(1f);
    stored.close();
    return new RmsNorm(onePlus, c.rmsNormEps());
  }

  /**
   * @param x (B, L, hidden)
   * @param rope the rotation of this layer's type
   * @param bias additive (B, 1, L, L) float32 visibility mask of this layer's type
   * @return (B, L, hidden) on x's manager
   */
  NDArray forward(NDArray x, HalfRope rope, NDArray bias) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      long b = x.getShape().get(0);
      long l = x.getShape().get(1);
      int hd = config.headDim();
      NDArray h = inputNorm.forward(x);
      NDArray q = qNorm.forward(qProj.forward(h).reshape(b, l, config.heads(), hd));
      NDArray k = kNorm.forward(kProj.forward(h).reshape(b, l, config.kvHeads(), hd));
      NDArray v = vProj.forward(h).reshape(b, l, config.kvHeads(), hd).transpose(0, 2, 1, 3);
      q = rope.apply(q.transpose(0, 2, 1, 3));
      k = rope.apply(k.transpose(0, 2, 1, 3));
      int rep = config.heads() / config.kvHeads();
      if (rep > 1) {
        k = k.expandDims(2).repeat(2, rep).reshape(b, config.heads(), l, hd);
        v = v.expandDims(2).repeat(2, rep).reshape(b, config.heads(), l, hd);
      }
      float scale = (float) Math.pow(config.queryPreAttnScalar(), -0.5);
      // Scores and softmax in float32 (as transformers' eager softmax), so that the huge negative
      // of a hidden key stays finite and a padding row that sees no key stays finite too.
      NDArray o =
          Attention.sdpa(
                  q.toType(DataType.FLOAT32, false),
                  k.toType(DataType.FLOAT32, false),
                  v.toType(DataType.FLOAT32, false),
                  bias,
                  scale)
              .toType(x.getDataType(), false);
      NDArray out = x.add(postAttentionNorm.forward(oProj.forward(Attention.mergeHeads(o))));
      NDArray f = preFeedforwardNorm.forward(out);
      NDArray mlp =
          downProj.forward(Activations.geluTanh(gateProj.forward(f)).mul(upProj.forward(f)));
      out = out.add(postFeedforwardNorm.forward(mlp));
      return scope.ret(out);
    }
  }
}
