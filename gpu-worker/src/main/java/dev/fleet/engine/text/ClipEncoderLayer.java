package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.weights.Weights;

/**
 * One pre-LayerNorm transformer layer of CLIP's text encoder: {@code x + attn(ln1(x))}, then {@code
 * x + fc2(act(fc1(ln2(x))))}.
 */
record ClipEncoderLayer(
    LayerNorm norm1,
    Linear q,
    Linear k,
    Linear v,
    Linear out,
    LayerNorm norm2,
    Linear fc1,
    Linear fc2,
    int heads,
    float scale,
    String act) {

  /** Loads {@code encoder.layers.N} from a view scoped to the text model. */
  static ClipEncoderLayer load(Weights w, ClipTextConfig c, NDManager manager) {
    long hidden = c.dims().hiddenSize();
    long inter = c.dims().intermediateSize();
    return new ClipEncoderLayer(
        LayerNorm.load(w, "layer_norm1", c.layerNormEps(), manager),
        linear(w, "self_attn.q_proj", hidden, hidden, manager),
        linear(w, "self_attn.k_proj", hidden, hidden, manager),
        linear(w, "self_attn.v_proj", hidden, hidden, manager),
        linear(w, "self_attn.out_proj", hidden, hidden, manager),
        LayerNorm.load(w, "layer_norm2", c.layerNormEps(), manager),
        linear(w, "mlp.fc1", inter, hidden, manager),
        linear(w, "mlp.fc2", hidden, inter, manager),
        c.dims().heads(),
        (float) (1.0 / Math.sqrt(c.headDim())),
        c.hiddenAct());
  }

  private static Linear linear(Weights w, String name, long out, long in, NDManager manager) {
    NDArray weight = w.load(name + ".weight", manager, out, in);
    NDArray bias = w.load(name + ".bias", manager, out);
    return new Linear(weight, bias);
  }

  /**
   * This layer with the side paths of {@code adapters} for {@code prefix + "self_attn.q_proj"} ...
   */
  ClipEncoderLayer adapted(Adapters a, String prefix) {
    return new ClipEncoderLayer(
        norm1,
        a.adapt(q, prefix + "self_attn.q_proj"),
        a.adapt(k, prefix + "self_attn.k_proj"),
        a.adapt(v, prefix + "self_attn.v_proj"),
        a.adapt(out, prefix + "self_attn.out_proj"),
        norm2,
        a.adapt(fc1, prefix + "mlp.fc1"),
        a.adapt(fc2, prefix + "mlp.fc2"),
        heads,
        scale,
        act);
  }

  /**
   * @param x (B, L, C)
   * @param mask (1, 1, L, L) additive causal mask
   * @return (B, L, C)
   */
  NDArray forward(NDArray x, NDArray mask) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x, mask);
      NDArray h = norm1.forward(x);
      NDArray qh = Attention.splitHeads(q.forward(h), heads); // (B, H, L, D)
      NDArray kh = Attention.splitHeads(k.forward(h), heads);
      NDArray vh = Attention.splitHeads(v.forward(h), heads);
      NDArray attn = Attention.mergeHeads(Attention.sdpa(qh, kh, vh, mask, scale)); // (B, L, C)
      x = x.add(out.forward(attn));
      NDArray mlp = fc2.forward(activate(fc1.forward(norm2.forward(x)))); // (B, L, C)
      return scope.ret(x.add(mlp));
    }
  }

  private NDArray activate(NDArray x) {
    return switch (act) {
      case "quick_gelu" -> Activations.quickGelu(x);
      case "gelu" -> ai.djl.nn.Activation.gelu(x);
      case "gelu_new", "gelu_pytorch_tanh" -> Activations.geluTanh(x);
      default -> throw new IllegalStateException("unsupported hidden_act " + act);
    };
  }
}
