package dev.fleet.engine.pipeline;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import java.util.List;

/**
 * FLUX text-to-image with every component resident and no memory budget: a {@link PlannedPipeline}
 * under the one plan {@link ExecutionPlan#allResident(long)}, with {@link
 * ExecutionOptions#defaults()}. One loaded pipeline serves many jobs; each job's arrays live in a
 * manager of its own that is closed when the job ends, so nothing of a job outlives it.
 */
public final class FluxPipeline implements AutoCloseable {
  private final PlannedPipeline planned;

  private FluxPipeline(PlannedPipeline planned) {
    this.planned = planned;
  }

  /** Loads every component of a model directory onto the target. */
  public static FluxPipeline load(ModelDirectory model, ComputeTarget target) {
    return new FluxPipeline(
        PlannedPipeline.load(
            model,
            target,
            List.of(ExecutionPlan.allResident(Long.MAX_VALUE)),
            ExecutionOptions.defaults()));
  }

  public ModelDirectory model() {
    return planned.model();
  }

  public ComputeTarget target() {
    return planned.target();
  }

  public FluxParams params() {
    return planned.params();
  }

  /** Generates with the seed's noise. */
  public GeneratedImage generate(GenerationSpec spec, GenerationListener listener) {
    return generate(spec, null, listener);
  }

  /**
   * @param noise the initial latent noise (1, 16, 2*ceil(h/16), 2*ceil(w/16)) flattened, or null to
   *     draw it from the seed exactly as {@code torch.randn} with a CPU generator would
   */
  public GeneratedImage generate(GenerationSpec spec, float[] noise, GenerationListener listener) {
    return planned.generate(spec, noise, listener).image();
  }

  /**
   * Generates with LoRA adapters (see {@link PlannedPipeline#generate(GenerationSpec, float[],
   * GenerationListener, LoraStack)}).
   */
  public GeneratedImage generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras) {
    return planned.generate(spec, noise, listener, loras).image();
  }

  /** Arrays still alive from jobs: zero between jobs unless something leaks. */
  public int liveJobArrays() {
    return planned.liveJobArrays();
  }

  @Override
  public void close() {
    planned.close();
  }
}
