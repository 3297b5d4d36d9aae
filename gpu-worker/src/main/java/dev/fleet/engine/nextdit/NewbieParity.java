package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * NewBie-image's components on the inputs of its reference fixture (names as in {@code
 * newbie-tiny/README.md}), for {@code ./fleet engine parity}: whichever of the DiT's, Gemma's and
 * Jina's inputs are present, each component loaded for its own outputs and freed after.
 */
public final class NewbieParity {
  /** The inputs, one per component, whose presence runs it. */
  public static final List<String> INPUTS = List.of("dit.in.x", "gemma.in.ids", "jina.in.ids");

  private NewbieParity() {}

  /**
   * Runs what {@code inputs} has inputs for and hands each output, by name, to {@code out}.
   *
   * @param in the inputs, float tensors read as float32 and integer ones as stored
   */
  public static void run(
      NewbieDirectory model,
      TensorStore inputs,
      Weights in,
      ComputeTarget target,
      NDManager manager,
      BiConsumer<String, NDArray> out) {
    if (inputs.contains("dit.in.x")) {
      try (TensorStore store = TensorStore.open(model.transformer());
          NextDitTransformer dit =
              NextDitTransformer.load(
                  NextDitTransformer.weightsOf(store, target), model.transformerParams())) {
        NDArray v =
            dit.forward(
                in.load("dit.in.x", manager),
                in.load("dit.in.t", manager),
                in.load("dit.in.cap_feats", manager),
                in.load("dit.in.cap_mask", manager),
                in.load("dit.in.clip_text_pooled", manager));
        out.accept("dit.out", v);
      }
    }
    if (inputs.contains("gemma.in.ids")) {
      try (Gemma3TextEncoder gemma = Gemma3TextEncoder.load(model.textEncoder(), target)) {
        NDArray h =
            gemma.encode(in.load("gemma.in.ids", manager), in.load("gemma.in.mask", manager));
        out.accept("gemma.out.hidden_states_m2", h);
      }
    }
    if (inputs.contains("jina.in.ids")) {
      try (JinaTextTower jina = JinaTextTower.load(model.clipModel(), target)) {
        JinaTextTower.Output o =
            jina.forward(in.load("jina.in.ids", manager), in.load("jina.in.mask", manager));
        out.accept("jina.out.pooled", o.pooled());
        out.accept("jina.out.last_hidden_state", o.lastHiddenState());
      }
    }
  }
}
