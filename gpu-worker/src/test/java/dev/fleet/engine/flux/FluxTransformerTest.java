package dev.fleet.engine.flux;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class FluxTransformerTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");
  private static final String[] INPUTS = {
    "img", "img_ids", "txt", "txt_ids", "y", "timesteps", "guidance"
  };

  private static TensorStore expected;
  private static FluxParams params;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(Fixtures.EXPECTED);
    params = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void float32MatchesReference() {
    assertParity("flux.safetensors", "dit.out", 1e-4);
  }

  @Test
  void bf16CheckpointMatchesReference() {
    assertParity("flux-bf16.safetensors", "dit.out.bf16", 1e-4);
  }

  @Test
  void fp8CheckpointMatchesReference() {
    assertParity("flux-fp8-e4m3fn.safetensors", "dit.out.fp8", 1e-4);
  }

  private void assertParity(String file, String want, double tol) {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve(file));
        FluxTransformer model =
            FluxTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m, DataType.FLOAT32);
      double err = relErr(out, input(m, want));
      System.out.printf("%s vs %s: rel L2 %.3e%n", file, want, err);
      assertTrue(err <= tol, file + " rel L2 " + err);
      assertEquals(DataType.FLOAT32, out.getDataType());
    }
  }

  @Test
  void cappedModelManagerStillRuns() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        FluxTransformer model =
            FluxTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      model.manager().cap();
      NDArray first = forward(model, m, DataType.FLOAT32);
      NDArray second = forward(model, m, DataType.FLOAT32);
      assertTrue(relErr(second, first) == 0, "a forward pass must not change the model");
      assertTrue(relErr(first, input(m, "dit.out")) <= 1e-4);
      assertEquals(m, first.getManager());
    }
  }

  @Test
  void onDemandBlocksGiveTheSameResultAsResidentOnes() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux-fp8-e4m3fn.safetensors"));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      try (FluxTransformer model =
          FluxTransformer.load(
              w, params, ignored -> new OnDemandBlocks(w, params), AttentionKernel.EAGER)) {
        model.manager().cap();
        NDArray out = forward(model, m, DataType.FLOAT32);
        assertTrue(relErr(out, input(m, "dit.out.fp8")) <= 1e-4);
      }
    }
  }

  @Test
  void float16AgreesWithFloat32() {
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        FluxTransformer model = FluxTransformer.load(new Weights(store, half), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m, DataType.FLOAT32);
      double err = relErr(out, input(m, "dit.out"));
      System.out.printf("fp16 on CPU vs reference: rel L2 %.3e%n", err);
      assertEquals(DataType.FLOAT32, out.getDataType());
      assertTrue(err <= 2e-2, "fp16 rel L2 " + err);
    }
  }

  @Test
  void wrongShapedWeightIsNamed() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      TensorStore bad =
          AlteredStore.replaced(
              store, "double_blocks.1.txt_mlp.0.weight", "double_blocks.1.txt_mlp.2.weight");
      var e =
          assertThrows(
              SafetensorsException.class,
              () -> FluxTransformer.load(new Weights(bad, ComputeTarget.cpu()), params).close());
      assertTrue(e.getMessage().contains("double_blocks.1.txt_mlp.0.weight"), e.getMessage());
      assertTrue(e.getMessage().contains("[64, 256]"), e.getMessage());
      assertTrue(e.getMessage().contains("[256, 64]"), e.getMessage());
    }
  }

  @Test
  void missingWeightIsNamed() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      TensorStore bad = AlteredStore.without(store, "single_blocks.1.norm.key_norm.scale");
      var e =
          assertThrows(
              SafetensorsException.class,
              () -> FluxTransformer.load(new Weights(bad, ComputeTarget.cpu()), params).close());
      assertTrue(e.getMessage().contains("single_blocks.1.norm.key_norm.scale"), e.getMessage());
    }
  }

  @Test
  void badInputsAreNamed() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        FluxTransformer model =
            FluxTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray[] in = inputs(m);
      var noGuidance =
          assertThrows(
              IllegalArgumentException.class,
              () -> model.forward(in[0], in[1], in[2], in[3], in[4], in[5], null));
      assertTrue(noGuidance.getMessage().contains("guidance is required"), noGuidance.getMessage());
      var badTxt =
          assertThrows(
              IllegalArgumentException.class,
              () -> model.forward(in[0], in[1], in[4], in[3], in[4], in[5], in[6]));
      assertTrue(
          badTxt.getMessage().startsWith("txt must have shape (1, *, 64)"), badTxt.getMessage());
      var badIds =
          assertThrows(
              IllegalArgumentException.class,
              () -> model.forward(in[0], in[3], in[2], in[3], in[4], in[5], in[6]));
      assertTrue(
          badIds.getMessage().contains("img_ids must have shape (1, 48, 3)"), badIds.getMessage());
    }
  }

  private static NDArray forward(FluxTransformer model, NDManager m, DataType outType) {
    NDArray[] in = inputs(m);
    return model.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]).toType(outType, false);
  }

  private static NDArray[] inputs(NDManager m) {
    NDArray[] in = new NDArray[INPUTS.length];
    for (int i = 0; i < INPUTS.length; i++) {
      in[i] = input(m, "dit.in." + INPUTS[i]);
    }
    return in;
  }

  private static NDArray input(NDManager m, String name) {
    return new Weights(expected, ComputeTarget.cpu()).load(name, m);
  }

  private static double relErr(NDArray actual, NDArray want) {
    return TensorAssert.relErr(floats(want), floats(actual));
  }
}
