package dev.fleet.engine.family;

import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import java.util.List;
import java.util.Optional;

/**
 * A family of models (FLUX, NewBie-image): what the engine needs to know to plan and run one. A
 * family brings its dimensions and their memory formulas ({@link ModelDims#memoryModel}, which the
 * planner prices plans with and the ledger books by), the presets {@code --synthetic} names, how a
 * model directory of it is recognised and read, and its pipeline. The planner, the ledger, block
 * streaming, the CLI and the worker take a family from {@link ModelFamilies} and call it, so that a
 * second family is one more implementation registered there.
 */
public interface ModelFamily {
  /** The family's name, as logs and errors show it. */
  String name();

  /**
   * Whether {@code model} holds a model of this family (from its files' headers or configs, no
   * weights read); false, not an error, for a directory in another layout.
   */
  boolean recognises(ModelLocation model);

  /** The names {@code --synthetic} takes for this family's presets, sorted. */
  List<String> presetNames();

  /** A preset's dimensions, as the planner sees them. */
  Optional<ModelDims> preset(String name);

  /** The planner's view of a model directory of this family, read from its headers and configs. */
  ModelDims dims(ModelLocation model);

  /**
   * The denoiser's linear layers a LoRA may adapt in a model of these dimensions (this family's
   * {@link #preset} or {@link #dims}), for the planner to price a job's adapters by.
   */
  DitLinears loraTargets(ModelDims dims);

  /** How the denoiser's blocks would sit on the device, from the dtypes its checkpoint stores. */
  StorageType ditStorage(ModelLocation model);

  /**
   * How the denoiser's blocks sit on the device when {@code request} is honoured: what the planner
   * prices them as, and what {@link #load(ModelLocation, ComputeTarget, List, ExecutionOptions,
   * DitStorageRequest)} holds them as. By default a family narrows nothing at load, so {@link
   * DitStorageRequest#FP8} is honoured only for a checkpoint that stores its blocks in float8
   * already.
   *
   * @throws IllegalArgumentException naming the model, its storage and why, when the family cannot
   *     hold its blocks as asked
   */
  default StorageType ditStorage(ModelLocation model, DitStorageRequest request) {
    StorageType stored = ditStorage(model);
    if (request == DitStorageRequest.FP8 && stored != StorageType.FP8) {
      throw new IllegalArgumentException(
          "fp8 DiT storage asked for "
              + model.root()
              + ", whose checkpoint stores its blocks as "
              + stored.label()
              + ": the "
              + name()
              + " engine narrows no checkpoint to fp8 when loading it (NewBie-image's does); use"
              + " an fp8 (e4m3fn) checkpoint of the model, or native storage");
    }
    return stored;
  }

  /** The denoiser's blocks as its checkpoint stores them, for the memory model to size exactly. */
  StoredBlocks storedBlocks(ModelLocation model);

  /**
   * Loads a model directory of this family under the first of {@code plans} that fits.
   *
   * @param plans fastest first, all with the same budget (the device's)
   */
  GenerationPipeline load(
      ModelLocation model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options);

  /**
   * As {@link #load(ModelLocation, ComputeTarget, List, ExecutionOptions)}, the blocks held as
   * {@link #ditStorage(ModelLocation, DitStorageRequest)} says (the plans must have been made for
   * that storage).
   *
   * @throws IllegalArgumentException as {@link #ditStorage(ModelLocation, DitStorageRequest)}
   */
  default GenerationPipeline load(
      ModelLocation model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      DitStorageRequest request) {
    ditStorage(model, request); // refuses what the default cannot hold
    return load(model, target, plans, options);
  }
}
