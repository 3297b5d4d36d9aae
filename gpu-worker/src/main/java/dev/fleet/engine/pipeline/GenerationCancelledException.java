package dev.fleet.engine.pipeline;

/** A job stopped at a step boundary because its listener asked for it. */
public class GenerationCancelledException extends RuntimeException {
  private final int completedSteps;

  public GenerationCancelledException(int completedSteps) {
    super("cancelled after " + completedSteps + " step(s)");
    this.completedSteps = completedSteps;
  }

  public int completedSteps() {
    return completedSteps;
  }
}
