package dev.fleet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.synthetic.Component;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.StorageType;
import org.junit.jupiter.api.Test;

/**
 * The planner's model dimensions as the engine reads them: from a model directory the way the
 * pipeline loads it, and counted tensor by tensor from the layouts the engine writes.
 */
class ModelDimsReaderTest {

  /**
   * The planner's parameter formulas ({@code DitDims.params} ...) and the engine's tensor layouts
   * (what {@code SyntheticModelWriter} writes and the loaders read) are two computations of the
   * same counts; every preset must agree, component by component and block by block.
   */
  @Test
  void presetParameterCountsAreTheEnginesLayoutCounts() {
    for (String name : ModelShape.presetNames()) {
      ModelShape shape = ModelShape.preset(name);
      FluxDims dims = FluxDims.preset(name).orElseThrow();
      assertEquals(shape.parameterCount(Component.DIT), dims.dit().params(), name);
      assertEquals(shape.parameterCount(Component.T5), dims.t5().params(), name);
      assertEquals(shape.parameterCount(Component.CLIP), dims.clip().params(), name);
      assertEquals(shape.parameterCount(Component.VAE), dims.autoencoder().params(), name);
      assertEquals(shape.doubleBlockParameterCount(), dims.dit().doubleBlockParams(), name);
      assertEquals(shape.singleBlockParameterCount(), dims.dit().singleBlockParams(), name);
      assertEquals(shape.parameterCount(), dims.params(), name);
    }
    // The published figures, once more here so that a change to both computations still shows.
    assertEquals(11_901_408_320L, FluxDims.FLUX_DEV.dit().params());
    assertEquals(339_831_296L, FluxDims.FLUX_DEV.dit().doubleBlockParams());
    assertEquals(141_591_808L, FluxDims.FLUX_DEV.dit().singleBlockParams());
  }

  @Test
  void theBundledModelReadsAsTheTinyPreset() {
    FluxDims read = ModelDimsReader.read(ModelDirectory.resolve(Fixtures.MODEL, null));
    assertEquals("flux-tiny", read.name());
    assertEquals(FluxDims.TINY.dit(), read.dit());
    assertEquals(FluxDims.TINY.t5(), read.t5());
    assertEquals(32, read.textTokens()); // from tokenizer_2/tokenizer.json
    assertEquals(FluxDims.TINY.clip(), read.clip());
    assertEquals(FluxDims.TINY.autoencoder(), read.autoencoder());
  }

  @Test
  void theTrainedBundledModelReadsAsTheShapesPreset() {
    FluxDims read = ModelDimsReader.read(ModelDirectory.resolve(Fixtures.SHAPES_MODEL, null));
    assertEquals("flux-shapes", read.name());
    assertEquals(FluxDims.SHAPES.dit(), read.dit());
    assertEquals(FluxDims.SHAPES.t5(), read.t5());
    assertEquals(40, read.textTokens()); // from tokenizer_2/tokenizer.json
    assertEquals(FluxDims.SHAPES.clip(), read.clip());
    assertEquals(FluxDims.SHAPES.autoencoder(), read.autoencoder());
  }

  @Test
  void storageFollowsTheCheckpoint() {
    assertEquals(
        StorageType.FP16, ModelDimsReader.ditStorage(ModelDirectory.resolve(Fixtures.MODEL, null)));
    assertEquals(
        StorageType.FP8,
        ModelDimsReader.ditStorage(
            ModelDirectory.resolve(Fixtures.MODEL, "flux-fp8-e4m3fn.safetensors")));
    assertEquals(
        StorageType.FP16,
        ModelDimsReader.ditStorage(
            ModelDirectory.resolve(Fixtures.MODEL, "flux-bf16.safetensors")));
  }
}
