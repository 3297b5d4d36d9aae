package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import java.util.Map;

/**
 * A single-stream block over the joint text + image sequence (BFL's {@code SingleStreamBlock}):
 * attention and MLP in parallel, their inputs from one linear layer and their outputs merged by
 * another.
 *
 * @param linear1 (3*hidden + mlp, hidden): qkv and MLP input
 * @param linear2 (hidden, hidden + mlp): attention projection and MLP output
 * @param norm QK-norm over the head dimension
 * @param modulation one modulation triple
 * @param heads number of heads
 */
public record SingleStreamBlock(
    Linear linear1, Linear linear2, QkNorm norm, Modulation modulation, int heads) {

  /** The affine-free pre-norm. */
  private static final LayerNorm PRE_NORM = LayerNorm.plain(1e-6f);

  /**
   * Loads one block.
   *
   * @param w the block's weights, scoped to {@code single_blocks.N}
   */
  public static SingleStreamBlock load(ParameterLoader w, FluxParams p, NDManager m) {
    int hidden = p.dims().hiddenSize();
    int mlp = p.dims().mlpHiddenDim();
    return new SingleStreamBlock(
        ShapedLoad.linear(w, "linear1", m, 3L * hidden + mlp, hidden, true),
        ShapedLoad.linear(w, "linear2", m, hidden, (long) hidden + mlp, true),
        QkNorm.load(w, "norm", m, p.dims().headDim()),
        Modulation.load(w, "modulation", m, hidden, false),
        p.dims().numHeads());
  }

  /**
   * This block with the adapters' side paths.
   *
   * @param name the block's prefix, e.g. {@code single_blocks.7}
   */
  public SingleStreamBlock adapted(Adapters a, String name) {
    if (a == Adapters.NONE) {
      return this;
    }
    String p = name + ".";
    return new SingleStreamBlock(
        a.adapt(linear1, p + "linear1"),
        a.adapt(linear2, p + "linear2"),
        norm,
        modulation.adapted(a, p + "modulation"),
        heads);
  }

  /** The block's parameters by their checkpoint names, as {@link DoubleStreamBlock#parameters}. */
  public Map<String, NDArray> parameters() {
    return new BlockParameters()
        .linear("linear1", linear1)
        .linear("linear2", linear2)
        .qkNorm("norm", norm)
        .linear("modulation.lin", modulation.lin())
        .toMap();
  }

  /**
   * @param x (B, T+L, hidden)
   * @param vec (B, hidden)
   * @param attention RoPE over the (T + L) joint positions
   * @return (B, T+L, hidden), on x's manager
   */
  public NDArray forward(NDArray x, NDArray vec, FluxAttention attention) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x, vec);
      long hidden = x.getShape().get(2);
      Modulation.Out mod = modulation.forward(vec)[0];
      NDList parts =
          linear1.forward(mod.modulate(PRE_NORM.forward(x))).split(new long[] {3 * hidden}, 2);
      NDArray[] qkv = SelfAttention.splitQkv(parts.get(0), heads, norm); // (B, H, T+L, D)
      NDArray attn = attention.forward(qkv[0], qkv[1], qkv[2]); // (B, T+L, H*D)
      NDArray merged = attn.concat(Activations.geluTanh(parts.get(1)), 2); // (B, T+L, hidden+mlp)
      NDArray out = mod.gatedAdd(x, linear2.forward(merged));
      return scope.ret(HalfPrecision.clampIfHalf(out));
    }
  }
}
