package dev.fleet.engine.family;

import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.nextdit.NewbieDirectory;
import dev.fleet.engine.nextdit.NextDitTransformer;
import dev.fleet.engine.nextdit.PlannedNewbiePipeline;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import java.util.List;
import java.util.Optional;

/**
 * NewBie-image (NewBie-image-Exp0.1 and models of its architecture): the Next-DiT, Gemma 3 and Jina
 * CLIP v2 of {@code engine.nextdit}, FLUX's autoencoder, NewBie's guided Euler sampling; its
 * dimensions and memory formulas in shared-model's {@link NewbieDims} and {@code
 * NewbieMemoryModel}; a model directory in NewBie's layout ({@link NewbieDirectory}).
 */
final class NewbieFamily implements ModelFamily {
  @Override
  public String name() {
    return "newbie";
  }

  /** Gemma's and Jina's folders beside a transformer whose header has NewBie's keys. */
  @Override
  public boolean recognises(ModelLocation model) {
    return NewbieDirectory.recognises(model.root(), model.dit());
  }

  @Override
  public List<String> presetNames() {
    return NewbieDims.presetNames();
  }

  @Override
  public Optional<ModelDims> preset(String name) {
    return NewbieDims.preset(name).map(ModelDims.class::cast);
  }

  @Override
  public NewbieDims dims(ModelLocation model) {
    return resolve(model).dims();
  }

  /** The Next-DiT's layers ({@link NextDitTransformer#loraLayers}). */
  @Override
  public DitLinears loraTargets(ModelDims dims) {
    return NextDitTransformer.loraLayers(((NewbieDims) dims).nextDit());
  }

  /**
   * What the checkpoint's block matrices are ({@link NewbieDirectory#blockStorage}): an fp8
   * checkpoint's blocks stay float8 on the device, widened per block for compute; a bf16 or f32
   * one's sit there in 16 bits.
   */
  @Override
  public StorageType ditStorage(ModelLocation model) {
    return resolve(model).blockStorage();
  }

  /**
   * As stored, or fp8 on request: the executor narrows a 16- or 32-bit checkpoint's block matrices
   * to e4m3fn with a per-tensor scale when loading them ({@link PlannedNewbiePipeline}).
   */
  @Override
  public StorageType ditStorage(ModelLocation model, DitStorageRequest request) {
    return request == DitStorageRequest.FP8 ? StorageType.FP8 : ditStorage(model);
  }

  /** None measured: the blocks are sized by {@link #ditStorage}, which is what the engine holds. */
  @Override
  public StoredBlocks storedBlocks(ModelLocation model) {
    return null;
  }

  @Override
  public PlannedNewbiePipeline load(
      ModelLocation model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options) {
    return PlannedNewbiePipeline.load(resolve(model), target, plans, options);
  }

  @Override
  public PlannedNewbiePipeline load(
      ModelLocation model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      DitStorageRequest request) {
    return PlannedNewbiePipeline.load(
        resolve(model), target, plans, options, ditStorage(model, request));
  }

  private static NewbieDirectory resolve(ModelLocation model) {
    return NewbieDirectory.resolve(model.root(), model.dit());
  }
}
