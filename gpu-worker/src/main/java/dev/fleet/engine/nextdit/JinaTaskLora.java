package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.engine.weights.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The task LoRA of Jina CLIP v2's text tower, merged into its weights at load. jina-clip-v2's own
 * checkpoint keeps every linear and embedding weight of the tower as a parametrization: the
 * pre-trained matrix under {@code NAME.parametrizations.weight.original} and, per task, low-rank
 * factors stacked under {@code NAME.parametrizations.weight.0.lora_A} and {@code …lora_B}. The
 * task's weight is the original plus {@code (alpha / rank)} times their product:
 *
 * <ul>
 *   <li>a linear layer (weight {@code out × in}): {@code lora_B[t] (out × r) · lora_A[t] (r × in)};
 *   <li>an embedding (table {@code rows × dim}, stored the other way round): {@code lora_A[t] (rows
 *       × r) · lora_B[t] (r × dim)}.
 * </ul>
 *
 * <p>The task is the config's {@code default_lora_task} ({@code retrieval.query} for jina-clip-v2,
 * the one NewBie encodes with), found in {@code lora_adaptations}; rank and alpha are {@code
 * lora_rank} and {@code lora_alpha}. A checkpoint that holds the plain {@code NAME.weight} (merged
 * already, as ComfyUI's and the fixture's are) is read as it is.
 *
 * @param task the task's name
 * @param taskIndex its row in the stacked factors
 */
public record JinaTaskLora(String task, int taskIndex, int rank, float alpha) {
  static final String ORIGINAL = ".parametrizations.weight.original";
  static final String LORA_A = ".parametrizations.weight.0.lora_A";
  static final String LORA_B = ".parametrizations.weight.0.lora_B";

  public JinaTaskLora {
    if (taskIndex < 0 || rank <= 0) {
      throw new IllegalArgumentException(
          "Jina task LoRA " + task + ": task index " + taskIndex + ", rank " + rank);
    }
  }

  /** The factor the product of the two low-rank matrices is scaled by. */
  public float scaling() {
    return alpha / rank;
  }

  /**
   * The task LoRA a Jina text config declares, or null when it declares none ({@code
   * lora_adaptations} absent).
   *
   * @param textConfig the config's {@code text_config} (holding {@code default_lora_task})
   * @param kwargs its {@code hf_model_config_kwargs} (holding the adaptations, rank and alpha)
   * @throws IllegalArgumentException the task is not one of the adaptations
   */
  static JinaTaskLora read(JsonNode textConfig, JsonNode kwargs) {
    JsonNode adaptations = kwargs.path("lora_adaptations");
    if (!adaptations.isArray() || adaptations.isEmpty()) {
      return null;
    }
    List<String> tasks = new ArrayList<>();
    adaptations.forEach(a -> tasks.add(a.asText()));
    String task =
        textConfig.path("default_lora_task").asText(kwargs.path("default_lora_task").asText(""));
    int index = tasks.indexOf(task);
    if (index < 0) {
      throw new IllegalArgumentException(
          "Jina text config: default_lora_task '"
              + task
              + "' is not one of lora_adaptations "
              + tasks);
    }
    // XLMRobertaFlashConfig's defaults.
    return new JinaTaskLora(
        task,
        index,
        kwargs.path("lora_rank").asInt(4),
        (float) kwargs.path("lora_alpha").asDouble(1));
  }

  /** Whether {@code weights} holds {@code name} (a {@code ….weight} key) as a parametrization. */
  static boolean parametrized(Weights weights, String name) {
    return !weights.has(name) && weights.has(stem(name) + ORIGINAL);
  }

  /**
   * Loads the weight {@code name} ({@code ….weight}): as stored, or, when the checkpoint keeps it
   * as a parametrization, merged with the task's factors (on the manager's device, in its compute
   * type).
   *
   * @param lora the config's task LoRA; null fails a parametrized weight, naming the key
   * @param shape the weight's shape, checked
   */
  static NDArray load(JinaTaskLora lora, Weights weights, String name, NDManager m, long... shape) {
    if (!parametrized(weights, name)) {
      return weights.load(name, m, shape);
    }
    String stem = stem(name);
    if (lora == null) {
      throw new IllegalArgumentException(
          weights.store().describe()
              + ": "
              + weights.prefix()
              + stem
              + " is a LoRA parametrization, but the text config names no lora_adaptations to merge");
    }
    return lora.merge(weights, stem, m, shape);
  }

  private NDArray merge(Weights weights, String stem, NDManager m, long[] shape) {
    try (NDManager scratch = m.newSubManager()) {
      NDArray original = weights.load(stem + ORIGINAL, scratch, shape);
      NDArray a = weights.load(stem + LORA_A, scratch);
      NDArray b = weights.load(stem + LORA_B, scratch);
      long[] as = a.getShape().getShape();
      long[] bs = b.getShape().getShape();
      if (as.length != 3 || bs.length != 3 || as[0] != bs[0] || taskIndex >= as[0]) {
        throw badFactors(
            weights,
            stem,
            as,
            bs,
            "do not stack " + (taskIndex + 1) + " or more tasks of one rank");
      }
      NDArray at = a.get(taskIndex);
      NDArray bt = b.get(taskIndex);
      NDArray delta;
      if (bs[2] == rank && as[1] == rank && bs[1] == shape[0] && as[2] == shape[1]) {
        delta = bt.matMul(at); // linear: (out × r)(r × in)
      } else if (as[2] == rank && bs[1] == rank && as[1] == shape[0] && bs[2] == shape[1]) {
        delta = at.matMul(bt); // embedding: (rows × r)(r × dim)
      } else {
        throw badFactors(
            weights,
            stem,
            as,
            bs,
            "are neither a linear nor an embedding adapter of rank "
                + rank
                + " for a weight of shape "
                + Arrays.toString(shape));
      }
      NDArray merged = original.add(delta.muli(scaling()));
      merged.attach(m);
      return merged;
    }
  }

  private static IllegalArgumentException badFactors(
      Weights weights, String stem, long[] a, long[] b, String what) {
    return new IllegalArgumentException(
        weights.store().describe()
            + ": "
            + weights.prefix()
            + stem
            + " LoRA factors "
            + Arrays.toString(a)
            + " and "
            + Arrays.toString(b)
            + " "
            + what);
  }

  private static String stem(String name) {
    if (!name.endsWith(".weight")) {
      throw new IllegalArgumentException("not a weight key: " + name);
    }
    return name.substring(0, name.length() - ".weight".length());
  }
}
