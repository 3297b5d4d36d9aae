package dev.fleet.worker;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.AdapterLoad;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import dev.fleet.model.memory.Workload;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Which jobs this worker can run within its device-memory budget: the planner's decision for a
 * job's image on this worker's model, budget and engine, the same planner the gateway routes with.
 *
 * @param model the served model's dimensions
 * @param ditStorage how its DiT blocks sit on the device (fp8 or fp16)
 * @param budgetBytes the device memory the worker may use, reserve included
 * @param hardware what plans are ranked against
 * @param engine how the engine computes on this worker's device
 * @param storedBlocks the DiT's blocks as its checkpoint stores them (sizing them exactly), or null
 *     to size them by {@code ditStorage}
 */
public record MemoryAdmission(
    ModelDims model,
    StorageType ditStorage,
    long budgetBytes,
    Hardware hardware,
    EngineProfile engine,
    StoredBlocks storedBlocks)
    implements JobRunner.Admission {

  /** Blocks sized by {@code ditStorage}. */
  public MemoryAdmission(
      ModelDims model,
      StorageType ditStorage,
      long budgetBytes,
      Hardware hardware,
      EngineProfile engine) {
    this(model, ditStorage, budgetBytes, hardware, engine, null);
  }

  public MemoryAdmission {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(ditStorage, "ditStorage");
    Objects.requireNonNull(hardware, "hardware");
    Objects.requireNonNull(engine, "engine");
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("the budget must be positive, got " + budgetBytes);
    }
  }

  /**
   * The planner's decision for one {@code width x height} image.
   *
   * @throws IllegalArgumentException when the size does not suit the model
   */
  public PlanDecision plan(int width, int height) {
    return plan(width, height, AdapterLoad.NONE);
  }

  /** As {@link #plan(int, int)}, with a job's LoRA adapters. */
  public PlanDecision plan(int width, int height, AdapterLoad adapters) {
    return Planner.plan(
        model,
        new Workload(width, height, 1, ditStorage, storedBlocks).withAdapters(adapters),
        budgetBytes,
        hardware,
        engine);
  }

  /**
   * The decision the worker loads its model under: the largest image it plans for must fit.
   *
   * @throws IllegalStateException when it does not, with the planner's reason
   */
  public PlanDecision planForLoad(int maxWidth, int maxHeight) {
    PlanDecision decision;
    try {
      decision = plan(maxWidth, maxHeight);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(
          "fleet.worker.max-width and max-height ("
              + maxWidth
              + "x"
              + maxHeight
              + "): "
              + e.getMessage(),
          e);
    }
    if (!decision.fits()) {
      throw new IllegalStateException(
          String.format(
              Locale.ROOT,
              "%s cannot run %s at %dx%d within its budget of %s: %s. Raise fleet.worker.budget"
                  + " or lower fleet.worker.max-width and max-height.",
              engine.name(),
              model.name(),
              maxWidth,
              maxHeight,
              bytes(budgetBytes),
              decision.reason()));
    }
    return decision;
  }

  /** Empty when some plan fits the job's image; otherwise why not, needed against budget. */
  @Override
  public Optional<String> refusal(GenerationSpec spec) {
    return refusal(spec, AdapterLoad.NONE);
  }

  /** As {@link #refusal(GenerationSpec)}, with the job's LoRA adapters planned in. */
  public Optional<String> refusal(GenerationSpec spec, AdapterLoad adapters) {
    PlanDecision decision = plan(spec.width(), spec.height(), adapters);
    if (decision.fits()) {
      return Optional.empty();
    }
    Plan leanest = decision.leanest();
    return Optional.of(
        String.format(
            Locale.ROOT,
            "%dx%d needs %s of device memory even under its leanest plan (%s: peak %s in %s,"
                + " plus the %s reserve), more than this worker's budget of %s",
            spec.width(),
            spec.height(),
            bytes(decision.neededBytes()),
            leanest.name(),
            ByteSize.gib(leanest.predictedPeakBytes()),
            leanest.peakPhase().label(),
            ByteSize.gib(decision.reserveBytes()),
            bytes(budgetBytes)));
  }

  /** {@code 1.03 GiB (1110432704 bytes)}: rounded for people, exact for comparing. */
  static String bytes(long n) {
    return String.format(Locale.ROOT, "%.2f GiB (%d bytes)", n / (double) ByteSize.GIB, n);
  }
}
