package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.RopeEmbedding;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;

/**
 * Next-DiT's self-attention ({@code Attention} of NewBie's model.py): a fused {@code qkv} without
 * bias split into H query heads and KV key/value heads, per-head RMS norms on q and k, the
 * interleaved 3-axis RoPE, grouped-query attention (query head h reads KV head ⌊h / (H/KV)⌋), an
 * additive mask on keys only, and {@code out} without bias.
 *
 * @param qkv (H·hd + 2·KV·hd, D)
 * @param qNorm (hd)
 * @param kNorm (hd)
 * @param out (D, H·hd)
 */
record GroupedAttention(
    Linear qkv, RmsNorm qNorm, RmsNorm kNorm, Linear out, int heads, int kvHeads, int headDim) {

  /** Loads {@code attention.*} of a block. */
  static GroupedAttention load(ParameterLoader w, NextDitParams p, NDManager m) {
    int hd = p.headDim();
    int h = p.nHeads();
    int kv = p.nKvHeads();
    return new GroupedAttention(
        new Linear(w.load("qkv.weight", m, (long) (h + 2 * kv) * hd, p.dim()), null),
        new RmsNorm(w.load("q_norm.weight", m, hd), NextDitParams.QK_NORM_EPS),
        new RmsNorm(w.load("k_norm.weight", m, hd), NextDitParams.QK_NORM_EPS),
        new Linear(w.load("out.weight", m, p.dim(), (long) h * hd), null),
        h,
        kv,
        hd);
  }

  /** This attention with the adapters' side paths of {@code name.qkv} and {@code name.out}. */
  GroupedAttention adapted(Adapters a, String name) {
    return a == Adapters.NONE
        ? this
        : new GroupedAttention(
            a.adapt(qkv, name + ".qkv"),
            qNorm,
            kNorm,
            a.adapt(out, name + ".out"),
            heads,
            kvHeads,
            headDim);
  }

  /**
   * @param x (B, L, D)
   * @param rope rotations (B, 1, L, hd/2)
   * @param keyBias additive (B, 1, 1, L) mask on keys (0 or a huge negative), or null
   * @param chunk query rows per attention call (FLUX's {@link ChunkedAttention}: at most (B, H,
   *     chunk, L) scores exist at once; the key mask is the same for every query row, so each chunk
   *     takes it whole), or 0 for all rows at once
   * @return (B, L, D) on x's manager
   */
  NDArray forward(NDArray x, RopeEmbedding rope, NDArray keyBias, int chunk) {
    long b = x.getShape().get(0);
    long l = x.getShape().get(1);
    NDArray fused = qkv.forward(x);
    long qw = (long) heads * headDim;
    long kw = (long) kvHeads * headDim;
    NDArray q = fused.get(":, :, :{}", qw).reshape(b, l, heads, headDim);
    NDArray k = fused.get(":, :, {}:{}", qw, qw + kw).reshape(b, l, kvHeads, headDim);
    NDArray v = fused.get(":, :, {}:", qw + kw).reshape(b, l, kvHeads, headDim);
    q = rope.apply(qNorm.forward(q).transpose(0, 2, 1, 3)); // (B, H, L, hd)
    k = rope.apply(kNorm.forward(k).transpose(0, 2, 1, 3)); // (B, KV, L, hd)
    v = v.transpose(0, 2, 1, 3);
    k = repeatKv(k);
    v = repeatKv(v);
    float scale = (float) (1.0 / Math.sqrt(headDim));
    AttentionKernel masked = (qs, ks, vs) -> Attention.sdpa(qs, ks, vs, keyBias, scale);
    NDArray o =
        chunk > 0 ? new ChunkedAttention(chunk, masked).attend(q, k, v) : masked.attend(q, k, v);
    return out.forward(Attention.mergeHeads(o));
  }

  /** (B, KV, L, hd) to (B, H, L, hd), each KV head serving H/KV consecutive query heads. */
  private NDArray repeatKv(NDArray x) {
    int rep = heads / kvHeads;
    if (rep == 1) {
      return x;
    }
    long[] s = x.getShape().getShape();
    return x.expandDims(2).repeat(2, rep).reshape(s[0], heads, s[2], s[3]);
  }
}
