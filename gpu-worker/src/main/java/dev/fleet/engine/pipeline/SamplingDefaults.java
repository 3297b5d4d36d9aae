package dev.fleet.engine.pipeline;

/**
 * What a job that names no steps or guidance gets from the model it runs on.
 *
 * @param steps sampling steps
 * @param guidance guidance scale (0 for a model that takes none)
 * @param kind the kind of model these defaults suit, for logs ({@code guidance-distilled})
 */
public record SamplingDefaults(int steps, double guidance, String kind) {
  public SamplingDefaults {
    if (steps < 1) {
      throw new IllegalArgumentException("default steps must be at least 1, got " + steps);
    }
  }
}
