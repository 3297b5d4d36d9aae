package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;

/**
 * The attention weights of one stream of a double-stream block (BFL's {@code SelfAttention}: qkv
 * projection, QK-norm, output projection); the attention itself runs jointly over both streams.
 *
 * @param qkv (3 * hidden, hidden)
 * @param norm QK-norm over the head dimension
 * @param proj (hidden, hidden)
 * @param heads number of heads
 */
public record SelfAttention(Linear qkv, QkNorm norm, Linear proj, int heads) {

  /** Loads {@code name.qkv}, {@code name.norm}, {@code name.proj}. */
  public static SelfAttention load(ParameterLoader w, String name, NDManager m, FluxParams p) {
    int hidden = p.dims().hiddenSize();
    return new SelfAttention(
        ShapedLoad.linear(w, name + ".qkv", m, 3L * hidden, hidden, p.dims().qkvBias()),
        QkNorm.load(w, name + ".norm", m, p.dims().headDim()),
        ShapedLoad.linear(w, name + ".proj", m, hidden, hidden, true),
        p.dims().numHeads());
  }

  /** These weights with the side paths of {@code name.qkv} and {@code name.proj}. */
  public SelfAttention adapted(Adapters a, String name) {
    return a == Adapters.NONE
        ? this
        : new SelfAttention(
            a.adapt(qkv, name + ".qkv"), norm, a.adapt(proj, name + ".proj"), heads);
  }

  /**
   * Normalised queries and keys and the values of a stream.
   *
   * @param x (B, L, hidden), already modulated
   * @return q, k, v, each (B, H, L, D)
   */
  public NDArray[] queryKeyValue(NDArray x) {
    return splitQkv(qkv.forward(x), heads, norm);
  }

  /** (B, L, 3*H*D) -> q, k, v (B, H, L, D) with QK-norm applied, as "B L (K H D) -> K B H L D". */
  static NDArray[] splitQkv(NDArray packed, int heads, QkNorm norm) {
    long b = packed.getShape().get(0);
    long l = packed.getShape().get(1);
    NDArray kbhld = packed.reshape(b, l, 3, heads, -1).transpose(2, 0, 3, 1, 4);
    NDArray v = kbhld.get(2);
    NDArray[] qk = norm.forward(kbhld.get(0), kbhld.get(1), v);
    return new NDArray[] {qk[0], qk[1], v};
  }
}
