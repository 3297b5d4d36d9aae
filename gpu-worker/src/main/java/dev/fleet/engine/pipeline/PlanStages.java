package dev.fleet.engine.pipeline;

import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.model.GenerationSpec;
import java.util.List;
import java.util.function.Function;

/**
 * What a model family brings to a {@link PlanLadder}: loading what one execution plan keeps on the
 * device, and running one job under it. FLUX's are {@link PlannedPipeline}'s ({@link LoadedPlan},
 * {@link PlanRun}).
 *
 * @param <L> what one plan keeps loaded
 */
public interface PlanStages<L extends PlanStages.Loaded> {
  /** What one plan keeps loaded on the device; closing it frees all of it. */
  interface Loaded extends AutoCloseable {
    ExecutionPlan plan();

    /** Stops work the loaded components do ahead of time (a block prefetch) after a failure. */
    void cancelPrefetch();

    @Override
    void close();
  }

  /**
   * Loads what {@code plan} keeps resident.
   *
   * @throws RuntimeException a memory failure ({@code MemoryFailure}) when it does not fit
   */
  L load(ExecutionPlan plan);

  /** Runs one job under {@code loaded}; its device arrays are freed when it ends, however. */
  PlannedGeneration run(
      L loaded,
      GenerationSpec spec,
      float[] noise,
      GenerationListener listener,
      List<PlanEvent> events,
      LoraStack loras);

  /** How one job runs under a loaded plan: {@link #run}'s signature, for {@link #of}. */
  @FunctionalInterface
  interface Runner<L> {
    PlannedGeneration run(
        L loaded,
        GenerationSpec spec,
        float[] noise,
        GenerationListener listener,
        List<PlanEvent> events,
        LoraStack loras);
  }

  /** The stages of a family whose loading and running are two methods of its pipeline. */
  static <L extends Loaded> PlanStages<L> of(Function<ExecutionPlan, L> load, Runner<L> run) {
    return new PlanStages<>() {
      @Override
      public L load(ExecutionPlan plan) {
        return load.apply(plan);
      }

      @Override
      public PlannedGeneration run(
          L loaded,
          GenerationSpec spec,
          float[] noise,
          GenerationListener listener,
          List<PlanEvent> events,
          LoraStack loras) {
        return run.run(loaded, spec, noise, listener, events, loras);
      }
    };
  }
}
