package dev.fleet.engine.pipeline;

import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.model.GenerationSpec;

/**
 * A model loaded onto a device under a ladder of execution plans, turning jobs into images: what a
 * model family's {@code load} returns (FLUX's is {@link PlannedPipeline}) and what the worker, the
 * CLI and the benchmarks use. One pipeline serves many jobs, one at a time; each job's arrays live
 * and die with it.
 */
public interface GenerationPipeline extends AutoCloseable {
  /** The model's name (its directory's), as jobs and PNG metadata name it. */
  String modelName();

  /** The plan in force now (it changes after an out-of-memory fallback). */
  ExecutionPlan currentPlan();

  /** Every device allocation of the loaded model and its jobs, booked against the budget. */
  DeviceLedger ledger();

  /** Steps and guidance for a job that names none. */
  SamplingDefaults defaults();

  /** The layers a LoRA adapter may patch, to check a job's adapters before it runs. */
  DitLinears loraTargets();

  /**
   * One job, with LoRA adapters, retried under a leaner plan if it runs out of memory.
   *
   * @param noise the initial latent noise, or null to draw it from the spec's seed
   * @throws GenerationOutOfMemoryException when the retry runs out of memory too
   */
  PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras);

  /** One job with the seed's noise and no adapters. */
  default PlannedGeneration generate(GenerationSpec spec, GenerationListener listener) {
    return generate(spec, null, listener, LoraStack.NONE);
  }

  /** Arrays still alive from jobs: zero between jobs unless something leaks. */
  int liveJobArrays();

  @Override
  void close();
}
