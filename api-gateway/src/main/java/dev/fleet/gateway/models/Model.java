package dev.fleet.gateway.models;

import dev.fleet.model.FieldError;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.MemoryEstimate;
import java.util.ArrayList;
import java.util.List;

/**
 * A model the gateway accepts jobs for: what a request gets by default and what it may ask for. The
 * global rules (multiples of 16, prompt length, ...) are {@link GenerationSpec}'s; these are the
 * narrower ones of this model.
 */
public record Model(
    String name,
    MemoryEstimate.Family family,
    int defaultSteps,
    int defaultWidth,
    int defaultHeight,
    double defaultGuidance,
    int minSide,
    int maxSide,
    int maxSteps) {

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
