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
 * the form {@code x̂ · (1 + w)} (their stored weights w held as loaded, 1 + w formed per call, so
 * that a layer holds exactly its checkpoint's tensors and can be kept and handed out by a {@link
 * dev.fleet.engine.nn.BlockStore}), per-head q/k RMS norms before the rotate-half RoPE,
 * grouped-query attention scaled by {@code query_pre_attn_scalar^−½}, and a GeGLU MLP {@code
 * down(gelu_tanh(gate(x)) · up(x))}.
 */
record Gemma3Layer(
    NDArray inputNorm,
    Linear qProj,
    Linear kProj,
    Linear vProj,
    Linear oProj,
    NDArray qNorm,
    NDArray kNorm,
    NDArray postAttentionNorm,
    NDArray preFeedforwardNorm,
    Linear gateProj,
    Linear upProj,
    Linear downProj,
    NDArray postFeedforwardNorm,
    Gemma3Config config) {

  /** Loads {@code layers.N.*}. */
  static Gemma3Layer load(ParameterLoader w, Gemma3Config c, NDManager m) {
    long h = c.hiddenSize();
    long q = (long) c.heads() * c.headDim();
    long kv = (long) c.kvHeads() * c.headDim();
    long f = c.intermediateSize();
    return new Gemma3Layer(
        w.load("input_layernorm.weight", m, h),
        new Linear(w.load("self_attn.q_proj.weight", m, q, h), null),
        new Linear(w.load("self_attn.k_proj.weight", m, kv, h), null),
        new Linear(w.load("self_attn.v_proj.weight", m, kv, h), null),
        new Linear(w.load("self_attn.o_proj.weight", m, h, q), null),
        w.load("self_attn.q_norm.weight", m, c.headDim()),
        w.load("self_attn.k_norm.weight", m, c.headDim()),
        w.load("post_attention_layernorm.weight", m, h),
        w.load("pre_feedforward_layernorm.weight", m, h),
        new Linear(w.load("mlp.gate_proj.weight", m, f, h), null),
        new Linear(w.load("mlp.up_proj.weight", m, f, h), null),
        new Linear(w.load("mlp.down_proj.weight", m, h, f), null),
        w.load("post_feedforward_layernorm.weight", m, h),
        c);
  }

  /**
   * Gemma's RMSNorm of stored weight w, scaling by 1 + w: 1 + w is formed on {@code scope} (the
   * layer's own arrays may sit on a capped manager or in a block store), in w's dtype as
   * transformers adds it.
   */
  private RmsNorm norm(NDArray w, NDManager scope) {
    return new RmsNorm(scope.ones(w.getShape(), w.getDataType()).addi(w), config.rmsNormEps());
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
      NDArray h = norm(inputNorm, scope).forward(x);
      NDArray q = norm(qNorm, scope).forward(qProj.forward(h).reshape(b, l, config.heads(), hd));
      NDArray k = norm(kNorm, scope).forward(kProj.forward(h).reshape(b, l, config.kvHeads(), hd));
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
      NDArray out =
          x.add(norm(postAttentionNorm, scope).forward(oProj.forward(Attention.mergeHeads(o))));
      NDArray f = norm(preFeedforwardNorm, scope).forward(out);
      NDArray mlp =
          downProj.forward(Activations.geluTanh(gateProj.forward(f)).mul(upProj.forward(f)));
      out = out.add(norm(postFeedforwardNorm, scope).forward(mlp));
      return scope.ret(out);
    }
  }
}
