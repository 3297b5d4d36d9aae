package dev.fleet.engine.nextdit;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Next-DiT against NewBie's own model.py on the newbie-tiny fixture. */
class NextDitTransformerTest {
  private static TensorStore expected;
  private static NextDitParams params;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(NewbieFixture.EXPECTED);
    params = NextDitParams.read(NewbieFixture.TRANSFORMER);
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void paramsComeFromTheConfig() {
    assertEquals(32, params.dim());
    assertEquals(8, params.headDim());
    assertEquals(2, params.nKvHeads());
    assertEquals(128, params.ffnDim());
    assertEquals(32, params.adalnDim());
    assertEquals(64, params.patchDim());
    assertEquals(List.of(2, 2, 4), params.axesDims());
    assertEquals(1e-5f, params.normEps());
  }

  @Test
  void float32MatchesNewbieModel() {
    assertParity("newbie.safetensors", "dit.out");
  }

  @Test
  void bf16CheckpointWidenedInJavaMatchesReference() {
    assertParity("newbie-bf16.safetensors", "dit.out.bf16");
  }

  @Test
  void float16AgreesWithFloat32() {
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model = NextDitTransformer.load(new Weights(store, half), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m);
      double err = NewbieFixture.relErr(expected, "dit.out", out);
      System.out.printf("next-dit fp16 on CPU vs dit.out: rel L2 %.3e%n", err);
      assertEquals(DataType.FLOAT32, out.getDataType());
      assertTrue(err <= 2e-2, "fp16 rel L2 " + err);
    }
  }

  @Test
  void comfyUiSingleFilePrefixIsFound() {
    try (TensorStore file =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        TensorStore comfy = new PrefixingStore(file, "model.diffusion_model.");
        NextDitTransformer model =
            NextDitTransformer.load(
                NextDitTransformer.weightsOf(comfy, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      double err = NewbieFixture.relErr(expected, "dit.out", forward(model, m));
      assertTrue(err <= 1e-4, "prefixed checkpoint rel L2 " + err);
    }
  }

  @Test
  void guidedPassWithNormClampMatchesForwardWithCfg() {
    assertGuided("cfg", new GuidedVelocity.Applied(true, true));
  }

  @Test
  void truncatedGuidanceRunsTheConditionalHalfAlone() {
    assertGuided("cfg_trunc", new GuidedVelocity.Applied(false, false));
  }

  @Test
  void forwardLeavesTheParametersAloneAndReturnsOnTheCallersManager() {
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      model.manager().cap();
      NDArray first = forward(model, m);
      NDArray second = forward(model, m);
      // The same code on the same inputs in one process: equal values on any machine.
      assertEquals(0.0, TensorAssert.relErr(floats(first), floats(second)));
      assertTrue(NewbieFixture.relErr(expected, "dit.out", first) <= 1e-4);
      assertEquals(m, first.getManager());
      assertEquals(new Shape(2, 16, 6, 10), first.getShape());
    }
  }

  @Test
  void misshapenWeightIsNamed() {
    try (TensorStore store =
        TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"))) {
      NextDitParams wider =
          new NextDitParams(
              2, 16, 32, 2, 2, 4, 2, 32, 2.0, 1e-5f, 48, List.of(2, 2, 4), List.of(1, 1, 1), 32);
      var e =
          assertThrows(
              SafetensorsException.class,
              () ->
                  NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), wider).close());
      assertTrue(e.getMessage().contains("feed_forward.w1.weight"), e.getMessage());
      assertTrue(e.getMessage().contains("[256, 32]"), e.getMessage());
    }
  }

  @Test
  void badLatentShapeIsRefused() {
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray x = m.zeros(new Shape(2, 16, 5, 10));
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  model.forward(
                      x,
                      in(m, "dit.in.t"),
                      in(m, "dit.in.cap_feats"),
                      in(m, "dit.in.cap_mask"),
                      in(m, "dit.in.clip_text_pooled")));
      assertTrue(e.getMessage().contains("multiples of 2"), e.getMessage());
    }
  }

  private void assertParity(String file, String want) {
    try (TensorStore store = TensorStore.open(NewbieFixture.TRANSFORMER.resolve(file));
        NextDitTransformer model =
            NextDitTransformer.load(
                NextDitTransformer.weightsOf(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m);
      double err = NewbieFixture.relErr(expected, want, out);
      System.out.printf("next-dit %s vs %s: rel L2 %.3e%n", file, want, err);
      assertTrue(err <= 1e-4, file + " rel L2 " + err);
    }
  }

  private void assertGuided(String name, GuidedVelocity.Applied want) {
    var c = NewbieFixture.caseJson();
    GuidedVelocity cfg =
        new GuidedVelocity(
            (float) c.get("cfg_scale").asDouble(),
            (float) c.get("cfg_trunc").asDouble(),
            (float) c.get("renorm_cfg").asDouble());
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      GuidedVelocity.Applied[] applied = new GuidedVelocity.Applied[1];
      NDArray out =
          cfg.forward(
              model,
              in(m, "dit." + name + ".in.x"),
              in(m, "dit." + name + ".in.t"),
              in(m, "dit.in.cap_feats"),
              in(m, "dit.in.cap_mask"),
              in(m, "dit.in.clip_text_pooled"),
              applied);
      double err = NewbieFixture.relErr(expected, "dit." + name + ".out", out);
      System.out.printf("next-dit %s vs dit.%s.out: rel L2 %.3e%n", name, name, err);
      assertTrue(err <= 1e-4, name + " rel L2 " + err);
      assertEquals(want, applied[0]);
    }
  }

  private static NDArray forward(NextDitTransformer model, NDManager m) {
    return model.forward(
        in(m, "dit.in.x"),
        in(m, "dit.in.t"),
        in(m, "dit.in.cap_feats"),
        in(m, "dit.in.cap_mask"),
        in(m, "dit.in.clip_text_pooled"));
  }

  private static NDArray in(NDManager m, String name) {
    return NewbieFixture.load(expected, name, m);
  }
}
