package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.normal;
import static dev.fleet.engine.synthetic.TensorSpec.ones;
import static dev.fleet.engine.synthetic.TensorSpec.weight;

import dev.fleet.model.memory.T5Dims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a Hugging Face {@code T5EncoderModel} checkpoint (T5 v1.1: gated feed-forward, no
 * biases, relative position buckets in the first block only).
 */
public final class T5Layout {
  private T5Layout() {}

  public static List<TensorSpec> of(T5Dims c) {
    long d = c.dModel();
    long inner = c.innerDim();
    List<TensorSpec> out = new ArrayList<>();
    // T5 does not scale its embeddings or its attention logits: transformers' initialisation folds
    // that into the weights (unit embeddings, queries scaled by 1/sqrt(d_kv) more).
    out.add(normal("shared.weight", 1f, c.vocabSize(), d));
    for (int i = 0; i < c.layers(); i++) {
      String attn = "encoder.block." + i + ".layer.0.SelfAttention.";
      out.add(normal(attn + "q.weight", (float) (1 / Math.sqrt((double) d * c.dKv())), inner, d));
      out.add(weight(attn + "k.weight", inner, d));
      out.add(weight(attn + "v.weight", inner, d));
      out.add(weight(attn + "o.weight", d, inner));
      if (i == 0) {
        out.add(
            normal(
                attn + "relative_attention_bias.weight",
                (float) (1 / Math.sqrt(d)),
                c.numBuckets(),
                c.heads()));
      }
      out.add(ones("encoder.block." + i + ".layer.0.layer_norm.weight", d));
      String ff = "encoder.block." + i + ".layer.1.DenseReluDense.";
      out.add(weight(ff + "wi_0.weight", c.dFf(), d));
      out.add(weight(ff + "wi_1.weight", c.dFf(), d));
      out.add(weight(ff + "wo.weight", d, c.dFf()));
      out.add(ones("encoder.block." + i + ".layer.1.layer_norm.weight", d));
    }
    out.add(ones("encoder.final_layer_norm.weight", d));
    return out;
  }
}
