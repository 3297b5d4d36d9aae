package dev.fleet.engine.vae;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.fleet.testing.TensorAssert;
import org.junit.jupiter.api.Test;

/** The autoencoder against BFL's {@code AutoEncoder} outputs for the tiny fixture model. */
class AutoEncoderParityTest {
  private static final double FP32_TOL = 1e-4;
  private static final double FP16_TOL = 2e-2;

  @Test
  void decodeMatchesBfl() {
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      NDArray decoded = ae.decode(tensor(expected, "vae.in.z", m));
      NDArray want = tensor(expected, "vae.out.decoded", m);
      assertEquals(want.getShape(), decoded.getShape());
      assertEquals(DataType.FLOAT32, decoded.getDataType());
      double err = relErr(decoded, want);
      System.out.printf("vae decode fp32 rel L2 %.3e%n", err);
      assertTrue(err <= FP32_TOL, "decode rel L2 " + err);
    }
  }

  @Test
  void encodeMatchesBfl() {
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      NDArray latent = ae.encode(tensor(expected, "vae.in.image", m));
      NDArray want = tensor(expected, "vae.out.latent_mean_scaled", m);
      assertEquals(want.getShape(), latent.getShape());
      double err = relErr(latent, want);
      System.out.printf("vae encode fp32 rel L2 %.3e%n", err);
      assertTrue(err <= FP32_TOL, "encode rel L2 " + err);
    }
  }

  @Test
  void fp16OnCpuAgreesWithTheReference() {
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, half)) {
      NDArray decoded = ae.decode(tensor(expected, "vae.in.z", m));
      NDArray latent = ae.encode(tensor(expected, "vae.in.image", m));
      assertEquals(DataType.FLOAT16, decoded.getDataType());
      assertEquals(DataType.FLOAT16, latent.getDataType());
      double decodeErr = relErr(decoded, tensor(expected, "vae.out.decoded", m));
      double encodeErr = relErr(latent, tensor(expected, "vae.out.latent_mean_scaled", m));
      System.out.printf("vae fp16 on CPU rel L2: decode %.3e, encode %.3e%n", decodeErr, encodeErr);
      assertTrue(decodeErr <= FP16_TOL, "fp16 decode rel L2 " + decodeErr);
      assertTrue(encodeErr <= FP16_TOL, "fp16 encode rel L2 " + encodeErr);
    }
  }

  @Test
  void forwardCreatesNothingOnTheCappedModelManager() {
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      ae.manager().cap();
      NDArray z = tensor(expected, "vae.in.z", m);
      NDArray image = tensor(expected, "vae.in.image", m);
      NDArray decoded = ae.decode(z);
      NDArray latent = ae.encode(image);
      assertTrue(relErr(decoded, tensor(expected, "vae.out.decoded", m)) <= FP32_TOL);
      assertTrue(relErr(latent, tensor(expected, "vae.out.latent_mean_scaled", m)) <= FP32_TOL);
      // Outputs belong to the caller; inputs are handed back to it untouched.
      assertEquals(m, decoded.getManager());
      assertEquals(m, z.getManager());
      assertEquals(new Shape(1, 16, 12, 16), z.getShape());
    }
  }

  @Test
  void decodeWorksOnAnyLatentTile() {
    // A tiler will call decode per latent tile: any h, w give (B, 3, 8h, 8w).
    try (NDManager m = NDManager.newBaseManager();
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      NDArray tile = m.randomNormal(new Shape(2, 16, 5, 7));
      assertEquals(new Shape(2, 3, 40, 56), ae.decode(tile).getShape());
      assertEquals(8, ae.downscale());
    }
  }

  @Test
  void weightsStayValidAfterTheStoreIsClosed() {
    // VaeLoader closes the checkpoint after loading; CPU float32 weights alias its mapping.
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      System.gc();
      NDArray decoded = ae.decode(tensor(expected, "vae.in.z", m));
      assertTrue(relErr(decoded, tensor(expected, "vae.out.decoded", m)) <= FP32_TOL);
    }
  }

  static NDArray tensor(TensorStore store, String name, NDManager m) {
    return new Weights(store, ComputeTarget.cpu()).load(name, m);
  }

  static double relErr(NDArray actual, NDArray expected) {
    return TensorAssert.relErr(floats(expected), floats(actual));
  }
}
