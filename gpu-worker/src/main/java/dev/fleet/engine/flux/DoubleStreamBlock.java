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
 * A double-stream block (BFL's {@code DoubleStreamBlock}): text and image keep separate weights and
 * attend jointly over the concatenated sequence (text first).
 *
 * @param imgMod two modulation triples for the image stream
 * @param imgAttn qkv, QK-norm and projection of the image stream
 * @param imgMlpIn {@code img_mlp.0} (mlp, hidden)
 * @param imgMlpOut {@code img_mlp.2} (hidden, mlp)
 * @param txtMod two modulation triples for the text stream
 * @param txtAttn qkv, QK-norm and projection of the text stream
 * @param txtMlpIn {@code txt_mlp.0} (mlp, hidden)
 * @param txtMlpOut {@code txt_mlp.2} (hidden, mlp)
 */
public record DoubleStreamBlock(
    Modulation imgMod,
    SelfAttention imgAttn,
    Linear imgMlpIn,
    Linear imgMlpOut,
    Modulation txtMod,
    SelfAttention txtAttn,
    Linear txtMlpIn,
    Linear txtMlpOut) {

  /** The affine-free pre-norms ({@code img_norm1/2}, {@code txt_norm1/2}). */
  private static final LayerNorm NORM = LayerNorm.plain(1e-6f);

  /**
   * Loads one block.
   *
   * @param w the block's weights, scoped to {@code double_blocks.N}
   */
  public static DoubleStreamBlock load(ParameterLoader w, FluxParams p, NDManager m) {
    int hidden = p.dims().hiddenSize();
    int mlp = p.dims().mlpHiddenDim();
    return new DoubleStreamBlock(
        Modulation.load(w, "img_mod", m, hidden, true),
        SelfAttention.load(w, "img_attn", m, p),
        ShapedLoad.linear(w, "img_mlp.0", m, mlp, hidden, true),
        ShapedLoad.linear(w, "img_mlp.2", m, hidden, mlp, true),
        Modulation.load(w, "txt_mod", m, hidden, true),
        SelfAttention.load(w, "txt_attn", m, p),
        ShapedLoad.linear(w, "txt_mlp.0", m, mlp, hidden, true),
        ShapedLoad.linear(w, "txt_mlp.2", m, hidden, mlp, true));
  }

  /**
   * This block with the adapters' side paths.
   *
   * @param name the block's prefix, e.g. {@code double_blocks.3}
   */
  public DoubleStreamBlock adapted(Adapters a, String name) {
    if (a == Adapters.NONE) {
      return this;
    }
    String p = name + ".";
    return new DoubleStreamBlock(
        imgMod.adapted(a, p + "img_mod"),
        imgAttn.adapted(a, p + "img_attn"),
        a.adapt(imgMlpIn, p + "img_mlp.0"),
        a.adapt(imgMlpOut, p + "img_mlp.2"),
        txtMod.adapted(a, p + "txt_mod"),
        txtAttn.adapted(a, p + "txt_attn"),
        a.adapt(txtMlpIn, p + "txt_mlp.0"),
        a.adapt(txtMlpOut, p + "txt_mlp.2"));
  }

  /**
   * @param img (B, L, hidden)
   * @param txt (B, T, hidden)
   * @param vec (B, hidden) conditioning vector
   * @param attention RoPE over the (T + L) joint positions
   * @return the new img (B, L, hidden) and txt (B, T, hidden), on img's manager
   */
  public NDList forward(NDArray img, NDArray txt, NDArray vec, FluxAttention attention) {
    try (NDManager scope = NDManager.subManagerOf(img)) {
      scope.tempAttachAll(img, txt, vec);
      long t = txt.getShape().get(1);
      Modulation.Out[] im = imgMod.forward(vec);
      Modulation.Out[] tm = txtMod.forward(vec);

      NDArray[] iqkv = imgAttn.queryKeyValue(im[0].modulate(NORM.forward(img))); // (B, H, L, D)
      NDArray[] tqkv = txtAttn.queryKeyValue(tm[0].modulate(NORM.forward(txt))); // (B, H, T, D)
      NDArray attn =
          attention.forward(
              tqkv[0].concat(iqkv[0], 2),
              tqkv[1].concat(iqkv[1], 2),
              tqkv[2].concat(iqkv[2], 2)); // (B, T+L, H*D)
      NDArray txtAttnOut = attn.get(":, :{}", t);
      NDArray imgAttnOut = attn.get(":, {}:", t);

      NDArray imgOut = im[0].gatedAdd(img, imgAttn.proj().forward(imgAttnOut));
      imgOut =
          im[1].gatedAdd(imgOut, mlp(imgMlpIn, imgMlpOut, im[1].modulate(NORM.forward(imgOut))));
      NDArray txtOut = tm[0].gatedAdd(txt, txtAttn.proj().forward(txtAttnOut));
      txtOut =
          tm[1].gatedAdd(txtOut, mlp(txtMlpIn, txtMlpOut, tm[1].modulate(NORM.forward(txtOut))));
      return scope.ret(
          new NDList(HalfPrecision.clampIfHalf(imgOut), HalfPrecision.clampIfHalf(txtOut)));
    }
  }

  /**
   * The block's parameters by their checkpoint names relative to the block ({@code
   * img_attn.qkv.weight}, ...), side paths as {@code NAME.lora_down} / {@code NAME.lora_up}: what a
   * {@link BlockKernel} that computes the whole block takes.
   */
  public Map<String, NDArray> parameters() {
    return new BlockParameters()
        .linear("img_mod.lin", imgMod.lin())
        .selfAttention("img_attn", imgAttn)
        .linear("img_mlp.0", imgMlpIn)
        .linear("img_mlp.2", imgMlpOut)
        .linear("txt_mod.lin", txtMod.lin())
        .selfAttention("txt_attn", txtAttn)
        .linear("txt_mlp.0", txtMlpIn)
        .linear("txt_mlp.2", txtMlpOut)
        .toMap();
  }

  private static NDArray mlp(Linear in, Linear out, NDArray x) {
    return out.forward(Activations.geluTanh(in.forward(x)));
  }
}
