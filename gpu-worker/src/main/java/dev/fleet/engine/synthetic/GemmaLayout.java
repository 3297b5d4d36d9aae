package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.normal;
import static dev.fleet.engine.synthetic.TensorSpec.weight;
import static dev.fleet.engine.synthetic.TensorSpec.zeros;

import dev.fleet.model.memory.GemmaDims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a Gemma 3 text model as transformers' {@code Gemma3TextModel} names them (the
 * fixture's {@code text_encoder/} keys, no prefix): the embedding table, every layer (all of them,
 * as a checkpoint holds them, though NewBie reads layers 0 … L−2) and the final norm. Gemma's
 * RMSNorms scale by {@code 1 + w}, so a fresh norm holds zeros; the embedding is normal with
 * transformers' {@code initializer_range} 0.02.
 */
public final class GemmaLayout {
  /** transformers' default {@code initializer_range} for Gemma 3, the embedding's std. */
  static final float EMBEDDING_STD = 0.02f;

  private GemmaLayout() {}

  public static List<TensorSpec> of(GemmaDims d) {
    long h = d.hiddenSize();
    long q = (long) d.heads() * d.headDim();
    long kv = (long) d.kvHeads() * d.headDim();
    long f = d.intermediateSize();
    List<TensorSpec> out = new ArrayList<>();
    out.add(normal("embed_tokens.weight", EMBEDDING_STD, d.vocabSize(), h));
    for (int i = 0; i < d.layers(); i++) {
      String p = "layers." + i + ".";
      out.add(zeros(p + "input_layernorm.weight", h));
      out.add(weight(p + "self_attn.q_proj.weight", q, h));
      out.add(weight(p + "self_attn.k_proj.weight", kv, h));
      out.add(weight(p + "self_attn.v_proj.weight", kv, h));
      out.add(weight(p + "self_attn.o_proj.weight", h, q));
      out.add(zeros(p + "self_attn.q_norm.weight", d.headDim()));
      out.add(zeros(p + "self_attn.k_norm.weight", d.headDim()));
      out.add(zeros(p + "post_attention_layernorm.weight", h));
      out.add(zeros(p + "pre_feedforward_layernorm.weight", h));
      out.add(weight(p + "mlp.gate_proj.weight", f, h));
      out.add(weight(p + "mlp.up_proj.weight", f, h));
      out.add(weight(p + "mlp.down_proj.weight", h, f));
      out.add(zeros(p + "post_feedforward_layernorm.weight", h));
    }
    out.add(zeros("norm.weight", h));
    return out;
  }
}
