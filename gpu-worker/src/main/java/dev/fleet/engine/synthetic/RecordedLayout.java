package dev.fleet.engine.synthetic;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint layout taken from a model's own loading code (the keys and shapes it asks for, e.g.
 * {@code NextDitTransformer.parameterShapes}) rather than written out by hand, filled as {@link
 * SyntheticModelWriter} fills FLUX's layouts: matrices and kernels (rank ≥ 2) normal with std
 * {@code 1/sqrt(fan_in)}, biases small and normal, vector weights (norm scales) ones.
 */
public final class RecordedLayout {
  private RecordedLayout() {}

  /**
   * @param shapes every tensor's key and shape, in load order
   */
  public static List<TensorSpec> of(Map<String, long[]> shapes) {
    List<TensorSpec> out = new ArrayList<>(shapes.size());
    shapes.forEach(
        (key, shape) -> {
          if (shape.length >= 2) {
            out.add(TensorSpec.weight(key, shape));
          } else if (key.endsWith(".bias")) {
            out.add(TensorSpec.bias(key, shape[0]));
          } else if (key.endsWith(".weight")) {
            out.add(TensorSpec.ones(key, shape));
          } else {
            throw new IllegalArgumentException(
                key + ": a vector that is neither a bias nor a norm weight has no fill");
          }
        });
    return out;
  }
}
