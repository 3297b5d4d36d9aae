package dev.fleet.engine.pipeline;

import static dev.fleet.engine.TensorAsserts.floats;
import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class FluxPipelineTest {
  static FluxPipeline pipeline;
  static GenerationSpec fixtureCase;

  @BeforeAll
  static void load() throws Exception {
    pipeline = FluxPipeline.load(ModelDirectory.resolve(Fixtures.MODEL, null), ComputeTarget.cpu());
    fixtureCase = PlanRecorder.fixtureCase();
  }

  @AfterAll
  static void close() {
    pipeline.close();
  }

  /** Records every traced tensor as float32 values. */
  static final class Recorder implements GenerationListener {
    final Map<String, float[]> tensors = new HashMap<>();
    final List<Integer> steps = new ArrayList<>();

    @Override
    public boolean wantsTensors() {
      return true;
    }

    @Override
    public void onTensor(String name, NDArray value) {
      tensors.put(name, value.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
    }

    @Override
    public void onStep(int step, int total) {
      steps.add(step);
      assertEquals(fixtureCase.steps(), total);
    }
  }

  @Test
  void seedReproducesTheReferencePipelineStepByStep() throws Exception {
    Recorder r = new Recorder();
    GeneratedImage image = pipeline.generate(fixtureCase, r);
    assertEquals(List.of(1, 2, 3, 4), r.steps);
    try (TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      assertTrue(relErr(floats(expected, "pipe.noise"), r.tensors.get("pipe.noise")) < 1e-6);
      assertArrayEquals(floats(expected, "pipe.timesteps"), r.tensors.get("pipe.timesteps"));
      for (int k = 0; k < fixtureCase.steps(); k++) {
        String name = "pipe.latents.step" + k;
        double err = relErr(floats(expected, name), r.tensors.get(name));
        assertTrue(err < 1e-3, name + " rel err " + err);
      }
      assertTrue(relErr(floats(expected, "pipe.image"), r.tensors.get("pipe.image")) < 1e-3);
    }
    assertPngMatchesExpected(image.png());
  }

  @Test
  void givenNoiseIsUsedInsteadOfTheSeed() throws Exception {
    try (TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      float[] noise = floats(expected, "pipe.noise");
      GenerationSpec otherSeed =
          new GenerationSpec(
              fixtureCase.prompt(),
              999,
              fixtureCase.steps(),
              fixtureCase.width(),
              fixtureCase.height(),
              3.5,
              "flux-tiny");
      assertPngMatchesExpected(pipeline.generate(otherSeed, noise, GenerationListener.NONE).png());
      var wrong = new float[noise.length - 1];
      assertThrows(
          IllegalArgumentException.class,
          () -> pipeline.generate(otherSeed, wrong, GenerationListener.NONE));
    }
  }

  @Test
  void sameInputsGiveTheSameBytesAndTheParametersTravelInThePng() throws Exception {
    GenerationSpec spec = new GenerationSpec("A Fox, in SNOW!", 42, 2, 64, 48, 2.0, "flux-tiny");
    byte[] a = pipeline.generate(spec, GenerationListener.NONE).png();
    byte[] b = pipeline.generate(spec, GenerationListener.NONE).png();
    assertArrayEquals(a, b);
    GenerationSpec other = new GenerationSpec("A Fox, in SNOW!", 43, 2, 64, 48, 2.0, "flux-tiny");
    assertFalse(
        java.util.Arrays.equals(a, pipeline.generate(other, GenerationListener.NONE).png()));
    String png = new String(a, java.nio.charset.StandardCharsets.ISO_8859_1);
    assertTrue(png.contains("parameters\0A Fox, in SNOW!\nSteps: 2, "), "parameters chunk");
    assertTrue(png.contains("Seed: 42, Size: 64x48, Model: flux-tiny"));
    assertTrue(png.contains("seed\u000042"));
  }

  @Test
  void nonSquareSizesWork() {
    GeneratedImage img =
        pipeline.generate(
            new GenerationSpec("wide", 1, 1, 160, 32, 3.5, "flux-tiny"), GenerationListener.NONE);
    assertEquals(160 * 32 * 3, img.rgb().length);
  }

  @Test
  void cancellationStopsAtAStepBoundaryAndFreesTheJob() {
    GenerationListener cancelAfterTwo =
        new GenerationListener() {
          int seen;

          @Override
          public void onStep(int step, int steps) {
            seen = step;
          }

          @Override
          public boolean cancelled() {
            return seen >= 2;
          }
        };
    var e =
        assertThrows(
            GenerationCancelledException.class,
            () -> pipeline.generate(fixtureCase, cancelAfterTwo));
    assertEquals(2, e.completedSteps());
    assertEquals(0, pipeline.liveJobArrays());
  }

  @Test
  void halfPrecisionOnCpuStaysWithin2PercentOfTheReference() throws Exception {
    var fp16 = new ComputeTarget(ai.djl.Device.cpu(), ai.djl.ndarray.types.DataType.FLOAT16);
    try (FluxPipeline half = FluxPipeline.load(ModelDirectory.resolve(Fixtures.MODEL, null), fp16);
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      Recorder r = new Recorder();
      half.generate(fixtureCase, r);
      for (String name : List.of("pipe.latents.step0", "pipe.latents.step3", "pipe.image")) {
        double err = relErr(floats(expected, name), r.tensors.get(name));
        assertTrue(err < 2e-2, name + " fp16 rel err " + err);
      }
    }
  }

  /**
   * The reference implementations' image (PyTorch, float32 on CPU): this pipeline gives it
   * bit-identically on the CPU that made it, and within ±1 on others ({@link ImageAssert}).
   */
  static void assertPngMatchesExpected(byte[] png) {
    BufferedImage expected = ImageAssert.readPng(Fixtures.EXPECTED_PNG);
    BufferedImage actual = ImageAssert.readPng(png);
    System.out.println("vs expected.png: " + ImageAssert.compare(expected, actual));
    ImageAssert.assertClose(expected, actual, "vs the reference's expected.png");
  }
}
