package dev.fleet.engine.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class T5EncoderTest {
  private static final Path DIR = Fixtures.MODEL.resolve("text_encoder_2");

  @Test
  void matchesTransformersInFloat32() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        T5Encoder model = T5Encoder.load(DIR, ComputeTarget.cpu())) {
      Weights ref = new Weights(expected, ComputeTarget.cpu());
      NDArray out = model.forward(ref.load("t5.in.ids", m));
      assertEquals(new Shape(1, 32, 64), out.getShape());
      float err = relErr(out, ref.load("t5.out.last_hidden_state", m));
      System.out.printf("t5 fp32 rel err: last_hidden_state %.3g%n", err);
      assertTrue(err <= 1e-4, "last_hidden_state rel err " + err);
      assertSame(m, out.getManager());
    }
  }

  @Test
  void parametersSitOnACappedManagerAndForwardStillRuns() {
    var half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        T5Encoder model = T5Encoder.load(DIR, half)) {
      assertThrows(IllegalStateException.class, () -> model.parameterManager().create(1f));
      NDArray ids = m.create(new long[] {8, 88, 12, 1, 0}, new Shape(1, 5));
      for (int i = 0; i < 2; i++) {
        NDArray out = model.forward(ids);
        assertEquals(new Shape(1, 5, 64), out.getShape());
        out.close();
      }
    }
  }

  @Test
  void float16AgreesWithFloat32() {
    var half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        T5Encoder model = T5Encoder.load(DIR, half)) {
      Weights ref = new Weights(expected, ComputeTarget.cpu());
      NDArray out = model.forward(ref.load("t5.in.ids", m));
      assertEquals(DataType.FLOAT16, out.getDataType());
      float err = relErr(out, ref.load("t5.out.last_hidden_state", m));
      System.out.printf("t5 fp16 rel err: last_hidden_state %.3g%n", err);
      assertTrue(err <= 2e-2, "fp16 last_hidden_state rel err " + err);
    }
  }

  @Test
  void bucketsFollowTransformers() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      var bias = new T5RelativePositionBias(m.zeros(new Shape(32, 4)), 32, 128);
      long[] relative = {0, -1, 1, -7, 7, 8, -8, 20, -20, 127, 200, -200};
      // transformers' _relative_position_bucket(bidirectional=True, 32 buckets, max distance 128)
      long[] expected = {0, 1, 17, 7, 23, 24, 8, 26, 10, 31, 31, 15};
      long[] actual = bias.bucket(m.create(relative)).toLongArray();
      assertArrayEquals(expected, actual);
    }
  }

  @Test
  void missingConfigAndUnsupportedFeedForwardAreNamed(@TempDir Path tmp) throws IOException {
    var noConfig =
        assertThrows(
            IllegalArgumentException.class, () -> T5Encoder.load(tmp, ComputeTarget.cpu()));
    assertTrue(
        noConfig.getMessage().contains(tmp.resolve("config.json").toString()),
        noConfig.getMessage());
    Files.writeString(
        tmp.resolve("config.json"),
        Files.readString(DIR.resolve("config.json")).replace("\"gated-gelu\"", "\"relu\""));
    var relu = assertThrows(IllegalArgumentException.class, () -> T5Config.read(tmp));
    assertTrue(relu.getMessage().contains("relu"), relu.getMessage());
    Files.writeString(
        tmp.resolve("config.json"),
        Files.readString(DIR.resolve("config.json")).replace("\"d_model\"", "\"d_mode\""));
    var field = assertThrows(IllegalArgumentException.class, () -> T5Config.read(tmp));
    assertTrue(field.getMessage().contains("d_model"), field.getMessage());
    assertTrue(field.getMessage().contains(tmp.toString()), field.getMessage());
  }

  @Test
  void aCheckpointWithoutTheEmbeddingIsNamed() {
    try (TensorStore clip = TensorStore.open(Fixtures.MODEL.resolve("text_encoder"))) {
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () -> T5Encoder.load(T5Config.read(DIR), new Weights(clip, ComputeTarget.cpu())));
      assertTrue(e.getMessage().contains("shared.weight"), e.getMessage());
    }
  }

  static float relErr(NDArray actual, NDArray expected) {
    return ClipTextModelTest.relErr(actual, expected);
  }
}
