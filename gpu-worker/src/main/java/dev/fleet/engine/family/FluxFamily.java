package dev.fleet.engine.family;

import dev.fleet.engine.checkpoint.UnrecognisedCheckpointException;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
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
  public boolean recognises(ModelLocation model) {
    ModelDirectory dir;
    try {
      dir = resolve(model);
    } catch (IllegalArgumentException e) {
      return false; // not in the FLUX.1-dev layout
    }
    try (TensorStore ignored = dir.openTransformer()) {
      return true;
    } catch (UnrecognisedCheckpointException e) {
      return false;
    }
  }

  /** The model in the FLUX.1-dev layout, every part checked to exist. */
  static ModelDirectory resolve(ModelLocation model) {
    return ModelDirectory.resolve(model.root(), model.dit());
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
  public FluxDims dims(ModelLocation model) {
    return ModelDimsReader.read(resolve(model));
  }

  /** BFL's layers of a DiT of these dimensions. */
  @Override
  public DitLinears loraTargets(ModelDims dims) {
    var d = ((FluxDims) dims).dit();
    return DitLinears.of(
        d.inChannels(),
        d.outChannels(),
        d.vecInDim(),
        d.contextInDim(),
        d.hiddenSize(),
        (int) (d.hiddenSize() * d.mlpRatio()),
        d.depth(),
        d.depthSingleBlocks(),
        d.guidanceEmbed());
  }

  @Override
  public StorageType ditStorage(ModelLocation model) {
    return ModelDimsReader.ditStorage(resolve(model));
  }

  @Override
  public StoredBlocks storedBlocks(ModelLocation model) {
    return ModelDimsReader.storedBlocks(resolve(model));
  }

  @Override
  public PlannedPipeline load(
      ModelLocation model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options) {
    return PlannedPipeline.load(resolve(model), target, plans, options);
  }
}
