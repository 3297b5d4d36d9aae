package dev.fleet.gateway.models;

import dev.fleet.model.FieldError;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.StorageType;
import java.util.ArrayList;
import java.util.List;

/**
 * A model the gateway accepts jobs for: what a request gets by default and what it may ask for. The
 * global rules (multiples of 16, prompt length, ...) are {@link GenerationSpec}'s; these are the
 * narrower ones of this model.
 *
 * @param dims the dimensions the memory planner sizes this model's jobs by
 * @param ditStorage how the workers store the transformer's blocks (fp8 as the fleet runs, or fp16)
 */
public record Model(
    String name,
    ModelDims dims,
    StorageType ditStorage,
    int defaultSteps,
    int defaultWidth,
    int defaultHeight,
    double defaultGuidance,
    int minSide,
    int maxSide,
    int maxSteps) {

  /**
   * Whether the model runs an unconditional pass (classifier-free guidance, as NewBie-image), and
   * so takes a negative prompt and a guidance truncation; FLUX's distilled guidance has none.
   */
  public boolean classifierFreeGuidance() {
    return dims instanceof NewbieDims;
  }

  /** The guidance fields a request gave that this model has no use for. */
  public List<FieldError> checkGuidanceFields(String negativePrompt, Double cfgTruncation) {
    List<FieldError> errors = new ArrayList<>();
    if (classifierFreeGuidance()) {
      return errors;
    }
    String why = "is for a model with classifier-free guidance; " + name + " has none";
    if (negativePrompt != null) {
      errors.add(new FieldError("negativePrompt", why));
    }
    if (cfgTruncation != null) {
      errors.add(new FieldError("cfgTruncation", why));
    }
    return errors;
  }

  /** The fields of a request that this model refuses (empty when it accepts them). */
  public List<FieldError> check(int width, int height, int steps) {
    List<FieldError> errors = new ArrayList<>();
    side(errors, "width", width);
    side(errors, "height", height);
    if (steps > maxSteps) {
      errors.add(
          new FieldError(
              "steps", "must be at most " + maxSteps + " for " + name + ", got " + steps));
    }
    return errors;
  }

  private void side(List<FieldError> errors, String field, int value) {
    if (value < minSide || value > maxSide) {
      errors.add(
          new FieldError(
              field,
              "must be between "
                  + minSide
                  + " and "
                  + maxSide
                  + " for "
                  + name
                  + ", got "
                  + value));
    }
  }
}
