package dev.fleet.engine.weights;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.testing.TensorAssert;
import org.junit.jupiter.api.Test;

class WeightsTest {

  @Test
  void e4m3TableMatchesKnownValues() {
    assertEquals(0f, Widening.E4M3FN[0]);
    assertEquals(448f, Widening.E4M3FN[0x7e]);
    assertEquals(-448f, Widening.E4M3FN[0xfe]);
    assertEquals(1f, Widening.E4M3FN[0x38]);
    assertEquals((float) Math.pow(2, -9), Widening.E4M3FN[1]);
    assertTrue(Float.isNaN(Widening.E4M3FN[0x7f]));
    assertEquals(57344f, Widening.E5M2[0x7b]);
  }

  @Test
  void bf16AndFp8FilesWidenToTheirExactValues() {
    var dir = Fixtures.MODEL.resolve("transformer");
    try (NDManager m = NDManager.newBaseManager();
        TensorStore f32 = TensorStore.open(dir.resolve("flux.safetensors"));
        TensorStore bf16 = TensorStore.open(dir.resolve("flux-bf16.safetensors"));
        TensorStore fp8 = TensorStore.open(dir.resolve("flux-fp8-e4m3fn.safetensors"))) {
      var target = ComputeTarget.cpu();
      String fp8Key =
          fp8.names().stream()
              .filter(n -> fp8.entry(n).dtype() == DType.F8_E4M3)
              .findFirst()
              .orElseThrow();
      NDArray ref = new Weights(f32, target).load(fp8Key, m);
      NDArray fromBf16 = new Weights(bf16, target).load(fp8Key, m);
      NDArray fromFp8 = new Weights(fp8, target).load(fp8Key, m);
      assertEquals(DataType.FLOAT32, fromFp8.getDataType());
      assertEquals(ref.getShape(), fromFp8.getShape());
      // bf16 keeps 8 mantissa bits, e4m3 three: relative error bounds of 2^-8 and 2^-4.
      assertTrue(relErr(ref, fromBf16) < 4e-3, "bf16 " + relErr(ref, fromBf16));
      assertTrue(relErr(ref, fromFp8) < 7e-2, "fp8 " + relErr(ref, fromFp8));
      assertTrue(relErr(ref, fromFp8) > 0, "fp8 widening must not be a copy of the f32 file");
    }
  }

  private static float relErr(NDArray expected, NDArray actual) {
    return (float) TensorAssert.relErr(floats(expected), floats(actual));
  }
}
