package dev.fleet.engine.text;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.ClipDims;
import dev.fleet.testing.TensorAssert;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipTextModelTest {
  private static final Path DIR = Fixtures.MODEL.resolve("text_encoder");

  @Test
  void matchesTransformersInFloat32() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        ClipTextModel model = ClipTextModel.load(DIR, ComputeTarget.cpu())) {
      Weights ref = new Weights(expected, ComputeTarget.cpu());
      ClipTextOutput out = model.forward(ref.load("clip.in.ids", m));
      assertEquals(new Shape(1, 77, 32), out.lastHiddenState().getShape());
      assertEquals(new Shape(1, 32), out.pooledOutput().getShape());
      float last = relErr(out.lastHiddenState(), ref.load("clip.out.last_hidden_state", m));
      float pooled = relErr(out.pooledOutput(), ref.load("clip.out.pooler_output", m));
      System.out.printf(
          "clip fp32 rel err: last_hidden_state %.3g, pooler_output %.3g%n", last, pooled);
      assertTrue(last <= 1e-4, "last_hidden_state rel err " + last);
      assertTrue(pooled <= 1e-4, "pooler_output rel err " + pooled);
      // Results belong to the caller; the capped parameter manager took nothing.
      assertSame(m, out.lastHiddenState().getManager());
      assertSame(m, out.pooledOutput().getManager());
    }
  }

  @Test
  void parametersSitOnACappedManagerAndForwardStillRuns() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ClipTextModel model = ClipTextModel.load(DIR, ComputeTarget.cpu())) {
      assertThrows(IllegalStateException.class, () -> model.parameterManager().create(1f));
      NDArray ids = m.create(new long[] {318, 86, 319}, new Shape(1, 3));
      for (int i = 0; i < 2; i++) {
        ClipTextOutput out = model.forward(ids);
        assertEquals(new Shape(1, 3, 32), out.lastHiddenState().getShape());
        out.close();
      }
    }
  }

  @Test
  void float16AgreesWithFloat32() {
    var half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        ClipTextModel model = ClipTextModel.load(DIR, half)) {
      Weights ref = new Weights(expected, ComputeTarget.cpu());
      ClipTextOutput out = model.forward(ref.load("clip.in.ids", m));
      assertEquals(DataType.FLOAT16, out.lastHiddenState().getDataType());
      float last = relErr(out.lastHiddenState(), ref.load("clip.out.last_hidden_state", m));
      float pooled = relErr(out.pooledOutput(), ref.load("clip.out.pooler_output", m));
      System.out.printf(
          "clip fp16 rel err: last_hidden_state %.3g, pooler_output %.3g%n", last, pooled);
      assertTrue(last <= 2e-2, "fp16 last_hidden_state rel err " + last);
      assertTrue(pooled <= 2e-2, "fp16 pooler_output rel err " + pooled);
    }
  }

  @Test
  void poolsAtTheFirstEosForNonLegacyConfigs() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore store = TensorStore.open(DIR)) {
      ClipTextConfig legacy = ClipTextConfig.read(DIR);
      // eos id 319 (the tokenizer's <|endoftext|>): the first 319 is where the legacy rule pools
      // too.
      ClipTextConfig current =
          new ClipTextConfig(legacy.dims(), legacy.layerNormEps(), legacy.hiddenAct(), 319);
      try (ClipTextModel model =
          ClipTextModel.load(current, new Weights(store, ComputeTarget.cpu()))) {
        NDArray ids = m.create(new long[] {318, 86, 313, 319, 319, 319, 5}, new Shape(1, 7));
        ClipTextOutput out = model.forward(ids);
        NDArray atEos = out.lastHiddenState().get("0, 3");
        assertEquals(0f, relErr(out.pooledOutput().reshape(-1), atEos));
      }
    }
  }

  @Test
  void missingConfigAndWrongCheckpointAreNamed(@TempDir Path tmp) throws IOException {
    var noConfig =
        assertThrows(
            IllegalArgumentException.class, () -> ClipTextModel.load(tmp, ComputeTarget.cpu()));
    assertTrue(
        noConfig.getMessage().contains(tmp.resolve("config.json").toString()),
        noConfig.getMessage());
    Files.copy(DIR.resolve("config.json"), tmp.resolve("config.json"));
    Path t5 = Fixtures.MODEL.resolve("text_encoder_2");
    for (String f :
        new String[] {
          "model-00001-of-00002.safetensors",
          "model-00002-of-00002.safetensors",
          "model.safetensors.index.json"
        }) {
      Files.copy(t5.resolve(f), tmp.resolve(f));
    }
    var wrong =
        assertThrows(
            IllegalArgumentException.class, () -> ClipTextModel.load(tmp, ComputeTarget.cpu()));
    assertTrue(
        wrong.getMessage().contains("embeddings.token_embedding.weight"), wrong.getMessage());
  }

  @Test
  void badConfigValuesAreNamed() {
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ClipTextConfig(new ClipDims(320, 32, 3, 2, 64, 77), 1e-5f, "quick_gelu", 2));
    assertTrue(e.getMessage().contains("32") && e.getMessage().contains("3"), e.getMessage());
    var act =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ClipTextConfig(new ClipDims(320, 32, 2, 2, 64, 77), 1e-5f, "swish", 2));
    assertTrue(act.getMessage().contains("swish"), act.getMessage());
  }

  @Test
  void idsLongerThanThePositionTableAreRefused() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ClipTextModel model = ClipTextModel.load(DIR, ComputeTarget.cpu())) {
      NDArray ids = m.zeros(new Shape(1, 78), DataType.INT64);
      var e = assertThrows(IllegalArgumentException.class, () -> model.forward(ids));
      assertTrue(e.getMessage().contains("77"), e.getMessage());
    }
  }

  static float relErr(NDArray actual, NDArray expected) {
    return (float) TensorAssert.relErr(floats(expected), floats(actual));
  }
}
