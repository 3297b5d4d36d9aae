package dev.fleet.engine.pipeline;

import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.model.GenerationSpec;
import java.util.List;

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
}
