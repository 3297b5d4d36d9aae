package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.bias;
import static dev.fleet.engine.synthetic.TensorSpec.normal;
import static dev.fleet.engine.synthetic.TensorSpec.ones;
import static dev.fleet.engine.synthetic.TensorSpec.weight;
import static dev.fleet.engine.synthetic.TensorSpec.zeros;

import dev.fleet.model.memory.JinaDims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of Jina CLIP v2's text tower as jina-clip-v2's checkpoint names them, with its LoRA
 * merged (the fixture's {@code clip_model/} keys): under {@link #PREFIX}, the word and the one
 * token-type embedding, the embedding LayerNorm, and per layer the fused {@code Wqkv}, {@code
 * out_proj}, {@code fc1}, {@code fc2} (with biases) and two LayerNorms (weight 1, bias 0).
 * Embeddings are normal with XLM-R's {@code initializer_range} 0.02.
 */
public final class JinaLayout {
  /** The key prefix of the tower in jina-clip-v2's checkpoint. */
  public static final String PREFIX = "text_model.transformer.roberta.";

  /** XLM-R's {@code initializer_range}, the embeddings' std. */
  static final float EMBEDDING_STD = 0.02f;

  private JinaLayout() {}

  public static List<TensorSpec> of(JinaDims d) {
    long w = d.width();
    long f = d.intermediateSize();
    List<TensorSpec> out = new ArrayList<>();
    out.add(normal(PREFIX + "embeddings.word_embeddings.weight", EMBEDDING_STD, d.vocabSize(), w));
    out.add(normal(PREFIX + "embeddings.token_type_embeddings.weight", EMBEDDING_STD, 1, w));
    layerNorm(out, PREFIX + "emb_ln", w);
    for (int i = 0; i < d.layers(); i++) {
      String p = PREFIX + "encoder.layers." + i + ".";
      linear(out, p + "mixer.Wqkv", 3 * w, w);
      linear(out, p + "mixer.out_proj", w, w);
      layerNorm(out, p + "norm1", w);
      linear(out, p + "mlp.fc1", f, w);
      linear(out, p + "mlp.fc2", w, f);
      layerNorm(out, p + "norm2", w);
    }
    return out;
  }

  private static void linear(List<TensorSpec> out, String name, long o, long i) {
    out.add(weight(name + ".weight", o, i));
    out.add(bias(name + ".bias", o));
  }

  private static void layerNorm(List<TensorSpec> out, String name, long c) {
    out.add(ones(name + ".weight", c));
    out.add(zeros(name + ".bias", c));
  }
}
