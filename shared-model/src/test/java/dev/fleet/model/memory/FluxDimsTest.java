package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class FluxDimsTest {

  /** The planner's family-neutral view finds FLUX's presets and their formulas. */
  @Test
  void presetsAreFoundAsModelDimsWithTheirFamilysMemoryModel() {
    ModelDims dev = ModelDims.preset("flux-dev").orElseThrow();
    assertEquals(FluxDims.FLUX_DEV, dev);
    assertTrue(
        dev.memoryModel(Workload.of(1024, 1024), EngineProfile.DJL_EAGER)
            instanceof FluxMemoryModel);
    assertEquals(List.of("flux-dev", "flux-schnell", "shapes", "tiny"), FluxDims.presetNames());
    assertTrue(ModelDims.presetNames().containsAll(FluxDims.presetNames()));
    assertTrue(ModelDims.preset("sdxl").isEmpty());
  }

  /**
   * The published sizes, as the engine's ModelShape counts them tensor by tensor: FLUX.1-dev's
   * transformer 11,901,408,320 (schnell lacks the guidance embedder's 10,229,760), T5-XXL's encoder
   * 4,762,310,656, CLIP-L's text model 123,060,480, the autoencoder 83,819,683.
   */
  @Test
  void presetsCountThePublishedParameters() {
    FluxDims dev = FluxDims.FLUX_DEV;
    assertEquals(11_901_408_320L, dev.dit().params());
    assertEquals(339_831_296L, dev.dit().doubleBlockParams());
    assertEquals(141_591_808L, dev.dit().singleBlockParams());
    assertEquals(4_762_310_656L, dev.t5().params());
    assertEquals(123_060_480L, dev.clip().params());
    assertEquals(83_819_683L, dev.autoencoder().params());
    assertEquals(16_870_599_139L, dev.params());
    assertEquals(11_891_178_560L, FluxDims.FLUX_SCHNELL.dit().params());
    assertEquals(256, FluxDims.FLUX_SCHNELL.textTokens());
    assertEquals(512, dev.textTokens());
  }

  @Test
  void blockParametersSplitIntoMatricesAndVectors() {
    DitDims d = FluxDims.FLUX_DEV.dit();
    // Double: per stream 6h² + 3h² + h² + 4h² + 4h² = 18h², two streams; h = 3072.
    assertEquals(36L * 3072 * 3072, d.doubleBlockMatrixParams());
    // Per stream biases 6h + 3h + h + 4h + h = 15h and QK-norm scales 2 x 128.
    assertEquals(2 * (15L * 3072 + 256), d.doubleBlockVectorParams());
    // Single: linear1 7h², linear2 5h², modulation 3h².
    assertEquals(15L * 3072 * 3072, d.singleBlockMatrixParams());
    assertEquals(11L * 3072 + 256, d.singleBlockVectorParams());
    assertEquals(6L * 3072 * 3072, d.largestDoubleBlockMatrix());
    assertEquals(7L * 3072 * 3072, d.largestSingleBlockMatrix());
    assertEquals(
        d.params(), d.nonBlockParams() + 19 * d.doubleBlockParams() + 38 * d.singleBlockParams());
  }

  /** BFL's max_length: the guidance-distilled transformer reads 512 T5 tokens, schnell 256. */
  @Test
  void theDefaultTextLengthFollowsTheGuidanceEmbedder() {
    assertEquals(512, FluxDims.defaultTextTokens(FluxDims.FLUX_DEV.dit()));
    assertEquals(256, FluxDims.defaultTextTokens(FluxDims.FLUX_SCHNELL.dit()));
    assertEquals(256, FluxDims.defaultTextTokens(FluxDims.SHAPES.dit()));
  }

  @Test
  void tokensFollowThePacking() {
    FluxDims dev = FluxDims.FLUX_DEV;
    assertEquals(16, dev.pixelsPerToken());
    assertEquals(4096, dev.imageTokens(1024, 1024));
    assertEquals(48 * 84, dev.imageTokens(768, 1344));
    assertEquals(16, FluxDims.TINY.pixelsPerToken());
    assertEquals(32, FluxDims.TINY.textTokens());
  }

  @Test
  void presetsByName() {
    assertEquals(FluxDims.FLUX_DEV, FluxDims.preset("flux-dev").orElseThrow());
    assertEquals(FluxDims.TINY, FluxDims.preset("tiny").orElseThrow());
    assertTrue(FluxDims.preset("sdxl").isEmpty());
    assertEquals(FluxDims.SHAPES, FluxDims.preset("shapes").orElseThrow());
    assertEquals(List.of("flux-dev", "flux-schnell", "shapes", "tiny"), FluxDims.presetNames());
  }

  @Test
  void dimensionsThatDoNotFitTogetherAreRefusedByName() {
    FluxDims dev = FluxDims.FLUX_DEV;
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new FluxDims(
                    "x", dev.dit(), FluxDims.TINY.t5(), 512, dev.clip(), dev.autoencoder()));
    assertTrue(e.getMessage().contains("context_in_dim 4096 must equal T5's d_model 64"));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new DitDims(64, 64, 768, 4096, 3072, 4.0, 25, 19, 38, true, true));
    assertTrue(e.getMessage().contains("hidden_size 3072 must be divisible by num_heads 25"));
    e = assertThrows(IllegalArgumentException.class, () -> new T5Dims(10, 8, 4, 16, 2, 0, 32));
    assertTrue(e.getMessage().contains("num_layers must be positive, got 0"));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new FluxDims("x", dev.dit(), dev.t5(), 0, dev.clip(), dev.autoencoder()));
    assertTrue(e.getMessage().contains("x: the text token count must be positive, got 0"));
  }
}
