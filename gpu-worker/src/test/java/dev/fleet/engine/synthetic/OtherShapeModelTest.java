package dev.fleet.engine.synthetic;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.FluxPipeline;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.AutoencoderDims;
import dev.fleet.model.memory.ClipDims;
import dev.fleet.model.memory.DitDims;
import dev.fleet.model.memory.T5Dims;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same checks on another fixture: a synthetic model whose every dimension differs from the
 * bundled one (3 heads of 32, RoPE axes (4, 14, 14), 1 double and 3 single blocks, MLP ratio 3, an
 * autoencoder with ch_mult (1, 2, 2, 1) and 2 res blocks, CLIP 48 wide with 3 layers and GELU, T5
 * with inner width 60 != d_model 80 in 3 shards) goes through the engine CLI's path, so that the
 * loader, config parsing, shard index and packing are not tied to the fixture's sizes.
 */
class OtherShapeModelTest {
  static final ModelShape OTHER =
      new ModelShape(
          "other-shape",
          new FluxParams(
              new DitDims(64, 64, 48, 80, 96, 3.0, 3, 1, 3, true, true),
              List.of(4, 14, 14),
              10_000),
          new AutoEncoderParams(
              new AutoencoderDims(3, 32, 3, List.of(1, 2, 2, 1), 2, 16), 256, 0.5f, 0.05f),
          new ClipTextConfig(new ClipDims(336, 48, 3, 3, 96, 77), 1e-5f, "gelu", 2),
          new T5Config(new T5Dims(192, 80, 12, 112, 5, 3, 16), 64, 1e-6f, T5Config.GATED_GELU));

  static final String PROMPT = "A Red FOX, sitting -- in the Snow!?";
  static final int STEPS = 3;
  static final String LAST_LATENTS = "pipe.latents.step" + (STEPS - 1);

  @TempDir static Path tmp;
  static Path dir;
  static FluxPipeline pipeline;

  @BeforeAll
  static void writeAndLoad() throws Exception {
    dir = tmp.resolve("other");
    SyntheticModelWriter writer =
        SyntheticModelWriter.of(OTHER, Fixtures.MODEL).withSeed(11).withT5Shards(3);
    writer.write(dir);
    writer.writeTransformer(dir, DitStorage.BF16);
    writer.writeTransformer(dir, DitStorage.F8_E4M3);
    // The CLI's resolution: with several transformer files the widest (float32) is taken.
    pipeline = FluxPipeline.load(ModelDirectory.resolve(dir, null), ComputeTarget.cpu());
  }

  @AfterAll
  static void close() {
    if (pipeline != null) {
      pipeline.close();
    }
  }

  static GenerationSpec spec(long seed) {
    return new GenerationSpec(PROMPT, seed, STEPS, 80, 48, 3.5, "other-shape");
  }

  @Test
  void everyConfigReadsBackAsTheShapeAndTheFilesHoldTheCountedParameters() throws Exception {
    assertEquals(OTHER.dit(), pipeline.params());
    assertEquals(OTHER.vae(), AutoEncoderParams.fromConfig(dir.resolve("vae/config.json")));
    assertEquals(OTHER.clip(), ClipTextConfig.read(dir.resolve("text_encoder")));
    assertEquals(OTHER.t5(), T5Config.read(dir.resolve("text_encoder_2")));
    try (Stream<Path> files = Files.list(dir.resolve("text_encoder_2"))) {
      assertEquals(
          List.of(
              "config.json",
              "model-00001-of-00003.safetensors",
              "model-00002-of-00003.safetensors",
              "model-00003-of-00003.safetensors",
              "model.safetensors.index.json"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
    Map<Component, Path> checkpoints =
        Map.of(
            Component.DIT, dir.resolve("transformer/flux.safetensors"),
            Component.VAE, dir.resolve("vae/ae.safetensors"),
            Component.CLIP, dir.resolve("text_encoder"),
            Component.T5, dir.resolve("text_encoder_2"));
    for (var e : checkpoints.entrySet()) {
      try (TensorStore store = TensorStore.open(e.getValue())) {
        long n = 0;
        for (String name : store.names()) {
          n += store.entry(name).elements();
        }
        assertEquals(OTHER.parameterCount(e.getKey()), n, e.getKey().toString());
        assertEquals(OTHER.layout(e.getKey()).size(), store.names().size());
      }
    }
  }

  @Test
  void nonSquareImageHasItsSizeAndTheSeedDecidesTheBytes() throws Exception {
    GeneratedImage a = pipeline.generate(spec(7), GenerationListener.NONE);
    assertEquals(80 * 48 * 3, a.rgb().length);
    BufferedImage png = ImageIO.read(new ByteArrayInputStream(a.png()));
    assertEquals(80, png.getWidth());
    assertEquals(48, png.getHeight());
    assertArrayEquals(a.png(), pipeline.generate(spec(7), GenerationListener.NONE).png());
    GeneratedImage b = pipeline.generate(spec(8), GenerationListener.NONE);
    assertFalse(java.util.Arrays.equals(a.rgb(), b.rgb()), "another seed, another image");
    assertEquals(0, pipeline.liveJobArrays());
  }

  @Test
  void bf16AndFp8BlockWeightsGiveLatentsCloseToFloat32() {
    float[] reference = lastLatents(pipeline);
    assertCloseTo(reference, DitStorage.BF16, 1e-2);
    assertCloseTo(reference, DitStorage.F8_E4M3, 1e-1);
  }

  private static void assertCloseTo(float[] reference, DitStorage storage, double tolerance) {
    try (FluxPipeline p =
        FluxPipeline.load(ModelDirectory.resolve(dir, storage.fileName()), ComputeTarget.cpu())) {
      assertEquals(OTHER.dit(), p.params());
      double err = relErr(reference, lastLatents(p));
      System.out.printf("%s latents: rel err %.3e vs float32%n", storage, err);
      // Not zero: the narrowed weights were really used.
      assertTrue(err > 0 && err <= tolerance, storage + " rel err " + err);
    }
  }

  /**
   * Without {@code transformer/config.json} the parameters come from the tensor shapes; with
   * FLUX.1's head dimension 128 the RoPE split (16, 56, 56) is FLUX.1's, so inference is exact
   * (here also qkv bias and guidance off, as schnell) and the image is the one the config would
   * give.
   */
  @Test
  void withoutConfigTheHeadDim128ShapeIsInferredExactly() throws Exception {
    ModelShape head128 =
        new ModelShape(
            "head-128",
            new FluxParams(
                new DitDims(64, 64, 32, 64, 256, 4.0, 2, 1, 1, false, false),
                List.of(16, 56, 56),
                10_000),
            ModelShape.TINY.vae(),
            ModelShape.TINY.clip(),
            ModelShape.TINY.t5());
    SyntheticModelWriter writer = SyntheticModelWriter.of(head128, Fixtures.MODEL).withSeed(5);
    ModelDirectory inferred = writer.withDitConfig(false).write(tmp.resolve("no-config"));
    ModelDirectory configured = writer.write(tmp.resolve("config"));
    assertFalse(Files.exists(inferred.transformer().resolveSibling("config.json")));
    try (TensorStore store = inferred.openTransformer()) {
      assertEquals(head128.dit(), FluxParams.fromShapes(store));
    }
    GenerationSpec spec = new GenerationSpec(PROMPT, 3, 2, 48, 32, 0, "head-128");
    byte[] fromShapes;
    try (FluxPipeline p = FluxPipeline.load(inferred, ComputeTarget.cpu())) {
      assertEquals(head128.dit(), p.params());
      fromShapes = p.generate(spec, GenerationListener.NONE).rgb();
    }
    try (FluxPipeline p = FluxPipeline.load(configured, ComputeTarget.cpu())) {
      // The same parameters run the same code in this process: equal bytes on any machine.
      assertArrayEquals(p.generate(spec, GenerationListener.NONE).rgb(), fromShapes);
    }
  }

  private static float[] lastLatents(FluxPipeline p) {
    Map<String, float[]> traced = new HashMap<>();
    p.generate(
        spec(7),
        new GenerationListener() {
          @Override
          public boolean wantsTensors() {
            return true;
          }

          @Override
          public void onTensor(String name, NDArray value) {
            traced.put(name, value.toType(DataType.FLOAT32, false).toFloatArray());
          }
        });
    return traced.get(LAST_LATENTS);
  }
}
