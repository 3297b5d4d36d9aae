package dev.fleet.engine.family;

import dev.fleet.engine.checkpoint.UnrecognisedCheckpointException;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import java.util.List;
import java.util.Optional;

/**
 * FLUX (BFL's architecture: FLUX.1-dev, schnell, their fine-tunes): the transformer of {@code
 * engine.flux}, T5 and CLIP from {@code engine.text}, the autoencoder of {@code engine.vae}, BFL's
 * sampling in {@code engine.pipeline}, its dimensions and memory formulas in shared-model's {@link
 * FluxDims} and {@code FluxMemoryModel}; a model directory in the FLUX.1-dev layout.
 */
final class FluxFamily implements ModelFamily {
  @Override
  public String name() {
    return "flux";
  }

  /** A transformer checkpoint in one of the FLUX DiT layouts ({@code DitCheckpoint}'s). */
  @Override
  public boolean recognises(ModelDirectory model) {
    try (TensorStore ignored = model.openTransformer()) {
      return true;
    } catch (UnrecognisedCheckpointException e) {
      return false;
    }
  }

  @Override
  public List<String> presetNames() {
    return FluxDims.presetNames();
  }

  @Override
  public Optional<ModelDims> preset(String name) {
    return FluxDims.preset(name).map(ModelDims.class::cast);
  }

  @Override
  public FluxDims dims(ModelDirectory model) {
    return ModelDimsReader.read(model);
  }

  @Override
  public StorageType ditStorage(ModelDirectory model) {
    return ModelDimsReader.ditStorage(model);
  }

  @Override
  public StoredBlocks storedBlocks(ModelDirectory model) {
    return ModelDimsReader.storedBlocks(model);
  }

  @Override
  public PlannedPipeline load(
      ModelDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options) {
    return PlannedPipeline.load(model, target, plans, options);
  }
}
