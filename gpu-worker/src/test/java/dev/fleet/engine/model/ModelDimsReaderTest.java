package dev.fleet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.synthetic.Component;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.StorageType;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The planner's model dimensions (shared-model) and the engine's model shapes (gpu-worker) describe
 * the same presets twice; this pins them to each other, count by count.
 */
class ModelDimsReaderTest {
  private record Pair(ModelShape shape, FluxDims dims, int t5Length) {}

  private static final List<Pair> PRESETS =
      List.of(
          new Pair(ModelShape.FLUX_DEV, FluxDims.FLUX_DEV, 512),
          new Pair(ModelShape.FLUX_SCHNELL, FluxDims.FLUX_SCHNELL, 256),
          new Pair(ModelShape.TINY, FluxDims.TINY, 32));

  @Test
  void presetParameterCountsAreTheEnginesLayoutCounts() {
    for (Pair p : PRESETS) {
      String name = p.dims().name();
      assertEquals(p.shape().parameterCount(Component.DIT), p.dims().dit().params(), name);
      assertEquals(p.shape().parameterCount(Component.T5), p.dims().t5().params(), name);
      assertEquals(p.shape().parameterCount(Component.CLIP), p.dims().clip().params(), name);
      assertEquals(p.shape().parameterCount(Component.VAE), p.dims().autoencoder().params(), name);
      assertEquals(p.shape().doubleBlockParameterCount(), p.dims().dit().doubleBlockParams(), name);
      assertEquals(p.shape().singleBlockParameterCount(), p.dims().dit().singleBlockParams(), name);
      assertEquals(p.shape().parameterCount(), p.dims().params(), name);
    }
    // The published figures, once more here so that a change to both places still shows.
    assertEquals(11_901_408_320L, FluxDims.FLUX_DEV.dit().params());
    assertEquals(339_831_296L, FluxDims.FLUX_DEV.dit().doubleBlockParams());
    assertEquals(141_591_808L, FluxDims.FLUX_DEV.dit().singleBlockParams());
  }

  @Test
  void shapesConvertToThePresets() {
    for (Pair p : PRESETS) {
      assertEquals(p.dims(), p.shape().dims(p.t5Length()));
    }
    assertEquals(512, ModelShape.FLUX_DEV.dit().defaultT5Length());
    assertEquals(256, ModelShape.FLUX_SCHNELL.dit().defaultT5Length());
  }

  @Test
  void theBundledModelReadsAsTheTinyPreset() {
    FluxDims read = ModelDimsReader.read(ModelDirectory.resolve(Fixtures.MODEL, null));
    assertEquals("flux-tiny", read.name());
    assertEquals(FluxDims.TINY.dit(), read.dit());
    assertEquals(FluxDims.TINY.t5(), read.t5()); // 32 tokens, from tokenizer_2/tokenizer.json
    assertEquals(FluxDims.TINY.clip(), read.clip());
    assertEquals(FluxDims.TINY.autoencoder(), read.autoencoder());
  }

  @Test
  void theTrainedBundledModelReadsAsTheShapesPreset() {
    FluxDims read = ModelDimsReader.read(ModelDirectory.resolve(Fixtures.SHAPES_MODEL, null));
    assertEquals("flux-shapes", read.name());
    assertEquals(FluxDims.SHAPES.dit(), read.dit());
    assertEquals(FluxDims.SHAPES.t5(), read.t5()); // 32 tokens, from tokenizer_2/tokenizer.json
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
