package dev.fleet.engine.synthetic;

import static dev.fleet.engine.synthetic.TensorSpec.bias;
import static dev.fleet.engine.synthetic.TensorSpec.normal;
import static dev.fleet.engine.synthetic.TensorSpec.ones;
import static dev.fleet.engine.synthetic.TensorSpec.weight;
import static dev.fleet.engine.synthetic.TensorSpec.zeros;

import dev.fleet.model.memory.ClipDims;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a Hugging Face {@code CLIPTextModel} checkpoint, without the {@code text_model.}
 * prefix that transformers 4 saves (FLUX.1-dev's {@code text_encoder/}) and transformers 5 drops.
 */
public final class ClipLayout {
  /** transformers' initialisation of the token and position embeddings. */
  private static final float TOKEN_STD = 0.02f;

  private static final float POSITION_STD = 0.01f;

  private ClipLayout() {}

  public static List<TensorSpec> of(ClipDims c) {
    long h = c.hiddenSize();
    List<TensorSpec> out = new ArrayList<>();
    out.add(normal("embeddings.token_embedding.weight", TOKEN_STD, c.vocabSize(), h));
    out.add(normal("embeddings.position_embedding.weight", POSITION_STD, c.sequenceLength(), h));
    for (int i = 0; i < c.layers(); i++) {
      String l = "encoder.layers." + i;
      for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
        linear(out, l + ".self_attn." + proj, h, h);
      }
      layerNorm(out, l + ".layer_norm1", h);
      linear(out, l + ".mlp.fc1", c.intermediateSize(), h);
      linear(out, l + ".mlp.fc2", h, c.intermediateSize());
      layerNorm(out, l + ".layer_norm2", h);
    }
    layerNorm(out, "final_layer_norm", h);
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
