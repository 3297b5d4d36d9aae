package dev.fleet.engine.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.AutoencoderDims;
import dev.fleet.model.memory.ClipDims;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.T5Dims;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ModelShapeTest {

  /**
   * The published sizes: FLUX.1-dev's transformer 11,901,408,320 parameters (schnell lacks the
   * guidance embedder's 10,229,760), T5-XXL's encoder 4,762,310,656, CLIP ViT-L/14's text model
   * 123,060,480, and the FLUX autoencoder 83,819,683 (ae.safetensors, 335 MB in float32).
   */
  @Test
  void presetsCountTheParametersOfTheRealModels() {
    ModelShape dev = ModelShape.FLUX_DEV;
    assertEquals(11_901_408_320L, dev.parameterCount(Component.DIT));
    assertEquals(4_762_310_656L, dev.parameterCount(Component.T5));
    assertEquals(123_060_480L, dev.parameterCount(Component.CLIP));
    assertEquals(83_819_683L, dev.parameterCount(Component.VAE));
    assertEquals(16_870_599_139L, dev.parameterCount());
    assertEquals(339_831_296L, dev.doubleBlockParameterCount());
    assertEquals(141_591_808L, dev.singleBlockParameterCount());
    assertEquals(
        dev.parameterCount(Component.DIT),
        19 * dev.doubleBlockParameterCount()
            + 38 * dev.singleBlockParameterCount()
            + embeddersAndHead(dev));
    ModelShape schnell = ModelShape.FLUX_SCHNELL;
    assertEquals(11_891_178_560L, schnell.parameterCount(Component.DIT));
    assertEquals(dev.parameterCount(Component.T5), schnell.parameterCount(Component.T5));
  }

  private static long embeddersAndHead(ModelShape s) {
    return s.layout(Component.DIT).stream()
        .filter(t -> !t.name().contains("blocks."))
        .mapToLong(TensorSpec::elements)
        .sum();
  }

  @Test
  void fluxOneDimensionsAreTheDocumentedOnes() {
    FluxParams dit = ModelShape.FLUX_DEV.dit();
    assertEquals(128, dit.dims().headDim());
    assertEquals(12288, dit.dims().mlpHiddenDim());
    assertEquals(8, ModelShape.FLUX_DEV.vae().dims().downscale());
    assertEquals(4096, ModelShape.FLUX_DEV.t5().dims().innerDim());
    assertTrue(ModelShape.FLUX_DEV.dit().dims().guidanceEmbed());
    assertTrue(!ModelShape.FLUX_SCHNELL.dit().dims().guidanceEmbed());
  }

  /** The tiny preset's layouts are exactly the bundled fixture's checkpoints: names and shapes. */
  @Test
  void tinyLayoutsAreTheFixtureCheckpoints() {
    Map<Component, String> files =
        Map.of(
            Component.DIT, "transformer/flux.safetensors",
            Component.VAE, "vae/ae.safetensors",
            Component.CLIP, "text_encoder",
            Component.T5, "text_encoder_2");
    for (var e : files.entrySet()) {
      try (TensorStore store = TensorStore.open(Fixtures.MODEL.resolve(e.getValue()))) {
        Map<String, String> actual = new TreeMap<>();
        for (String n : store.names()) {
          actual.put(n, Arrays.toString(store.entry(n).shape()));
        }
        Map<String, String> expected = new TreeMap<>();
        for (TensorSpec t : ModelShape.TINY.layout(e.getKey())) {
          expected.put(t.name(), Arrays.toString(t.shape()));
        }
        assertEquals(actual, expected, e.getKey().toString());
      }
    }
    assertEquals(
        ModelShape.TINY.dit(),
        FluxParams.fromJson(Fixtures.MODEL.resolve("transformer/config.json")));
    assertEquals(
        ModelShape.TINY.vae(),
        AutoEncoderParams.fromConfig(Fixtures.MODEL.resolve("vae/config.json")));
    assertEquals(
        ModelShape.TINY.clip(), ClipTextConfig.read(Fixtures.MODEL.resolve("text_encoder")));
    assertEquals(ModelShape.TINY.t5(), T5Config.read(Fixtures.MODEL.resolve("text_encoder_2")));
  }

  @Test
  void theShapesPresetIsTheTrainedBundledModelsConfig() {
    Path dir = Fixtures.SHAPES_MODEL;
    assertEquals(
        ModelShape.SHAPES.dit(), FluxParams.fromJson(dir.resolve("transformer/config.json")));
    assertEquals(
        ModelShape.SHAPES.vae(), AutoEncoderParams.fromConfig(dir.resolve("vae/config.json")));
    assertEquals(ModelShape.SHAPES.clip(), ClipTextConfig.read(dir.resolve("text_encoder")));
    assertEquals(ModelShape.SHAPES.t5(), T5Config.read(dir.resolve("text_encoder_2")));
  }

  /**
   * Every engine preset is the planner's preset of that name with the engine's own fields: the same
   * dimensions (read back through {@link ModelShape#dims}), and the RoPE split, latent scale and
   * shift and CLIP eos id that only the engine needs, as the models' configs state them.
   */
  @Test
  void presetsAreThePlannersDimensionsWithTheEnginesOwnFields() {
    assertEquals(FluxDims.presetNames(), ModelShape.presetNames());
    for (String name : ModelShape.presetNames()) {
      FluxDims dims = FluxDims.preset(name).orElseThrow();
      assertEquals(dims, ModelShape.preset(name).dims(dims.textTokens()), name);
    }
    ModelShape dev = ModelShape.FLUX_DEV;
    assertEquals(List.of(16, 56, 56), dev.dit().axesDim());
    assertEquals(10_000, dev.dit().theta());
    assertEquals(256, dev.vae().resolution());
    assertEquals(0.3611f, dev.vae().scaleFactor());
    assertEquals(0.1159f, dev.vae().shiftFactor());
    assertTrue(dev.clip().poolsAtHighestId());
    assertEquals(1e-5f, dev.clip().layerNormEps());
    assertEquals("quick_gelu", dev.clip().hiddenAct());
    assertEquals(128, dev.t5().maxDistance());
    assertEquals(1e-6f, dev.t5().layerNormEps());
    assertEquals(T5Config.GATED_GELU, dev.t5().feedForwardProj());

    ModelShape shapes = ModelShape.SHAPES;
    assertEquals(List.of(16, 24, 24), shapes.dit().axesDim());
    assertEquals(128, shapes.vae().resolution());
    assertEquals(1.345079315524831f, shapes.vae().scaleFactor());
    assertEquals(-0.03995814174413681f, shapes.vae().shiftFactor());
    assertEquals(68, shapes.clip().eosTokenId());
    assertTrue(!shapes.clip().poolsAtHighestId());
    assertEquals(69, shapes.t5().dims().vocabSize());
    assertEquals(40, FluxDims.SHAPES.textTokens());
    assertEquals(List.of(8, 12, 12), ModelShape.TINY.dit().axesDim());
    assertEquals(64, ModelShape.TINY.vae().resolution());
  }

  @Test
  void presetsByName() {
    assertEquals(List.of("flux-dev", "flux-schnell", "shapes", "tiny"), ModelShape.presetNames());
    assertSame(ModelShape.FLUX_DEV, ModelShape.preset("flux-dev"));
    assertSame(ModelShape.TINY, ModelShape.preset("tiny"));
    var e = assertThrows(IllegalArgumentException.class, () -> ModelShape.preset("flux-pro"));
    assertTrue(e.getMessage().contains("flux-pro"), e.getMessage());
    assertTrue(e.getMessage().contains("flux-schnell"), e.getMessage());
  }

  @Test
  void partsThatDoNotFitAreNamed() {
    ModelShape t = ModelShape.TINY;
    assertMessage(
        "context_in_dim 64 must equal T5's d_model 80",
        () ->
            new ModelShape(
                "x",
                t.dit(),
                t.vae(),
                t.clip(),
                new T5Config(
                    new T5Dims(170, 80, 16, 128, 4, 2, 32), 128, 1e-6f, T5Config.GATED_GELU)));
    assertMessage(
        "vec_in_dim 32 must equal CLIP's hidden_size 64",
        () ->
            new ModelShape(
                "x",
                t.dit(),
                t.vae(),
                new ClipTextConfig(new ClipDims(320, 64, 2, 2, 64, 77), 1e-5f, "quick_gelu", 2),
                t.t5()));
    assertMessage(
        "3 levels in ch_mult [1, 2, 2] (1/4)",
        () ->
            new ModelShape(
                "x",
                t.dit(),
                new AutoEncoderParams(
                    new AutoencoderDims(3, 32, 3, List.of(1, 2, 2), 1, 16), 64, 0.3611f, 0.1159f),
                t.clip(),
                t.t5()));
    assertMessage(
        "z_channels 8",
        () ->
            new ModelShape(
                "x",
                t.dit(),
                new AutoEncoderParams(
                    new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 8), 64, 0.3611f, 0.1159f),
                t.clip(),
                t.t5()));
    assertMessage("a model shape needs a name", () -> t.named(" "));
  }

  private static void assertMessage(String expected, Runnable r) {
    var e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
