package dev.fleet.engine.vae;

import static dev.fleet.engine.vae.AutoEncoderParityTest.relErr;
import static dev.fleet.engine.vae.AutoEncoderParityTest.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.fleet.model.memory.AutoencoderDims;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tiled decoding against the untiled decoder and BFL's reference: margins as wide as the remaining
 * receptive field, GroupNorm statistics merged across tiles and the mid block on the whole latent
 * make it equal up to rounding, whatever the tile size.
 */
class TiledDecodeTest {
  /** What a tiled decode must meet; it meets it by orders of magnitude (see the printed errors). */
  private static final double TOL = 1e-3;

  static AutoEncoder ae;
  static TensorStore expected;

  @BeforeAll
  static void load() {
    ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu());
    ae.manager().cap();
    expected = TensorStore.open(Fixtures.EXPECTED);
  }

  @AfterAll
  static void close() {
    ae.close();
    expected.close();
  }

  @Test
  void tiledDecodeOfTheFixtureLatentAgreesWithUntiled() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray z = tensor(expected, "vae.in.z", m); // (1, 16, 12, 16)
      long t0 = System.nanoTime();
      NDArray untiled = ae.decode(z);
      System.out.printf("untiled decode %.2f s%n", (System.nanoTime() - t0) / 1e9);
      NDArray reference = tensor(expected, "vae.out.decoded", m);
      // 5: uneven tiles (12 x 16 latent pixels cut at 5, 10); 16: one tile, the margins clipped.
      for (int tile : new int[] {5, 16}) {
        t0 = System.nanoTime();
        NDArray tiled = ae.decodeTiled(z, tile, 0);
        System.out.printf("tiled decode %.2f s%n", (System.nanoTime() - t0) / 1e9);
        assertEquals(untiled.getShape(), tiled.getShape());
        assertEquals(m, tiled.getManager());
        double err = relErr(tiled, untiled);
        double errRef = relErr(tiled, reference);
        System.out.printf(
            "tiled decode, tile %d latent px: rel L2 vs untiled %.3e, vs BFL %.3e%n",
            tile, err, errRef);
        assertTrue(err <= TOL, "tile " + tile + ": rel L2 vs untiled " + err);
        assertTrue(err <= 1e-5, "tile " + tile + " should be exact up to rounding: " + err);
        assertTrue(errRef <= 1e-4, "tile " + tile + ": rel L2 vs BFL " + errRef);
      }
      assertEquals(new Shape(1, 16, 12, 16), z.getShape());
    }
  }

  @Test
  void chunkedMidAttentionAndBatchesAgree() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray z = m.randomNormal(0, 1, new Shape(2, 16, 9, 13), DataType.FLOAT32);
      NDArray untiled = ae.decode(z);
      NDArray tiled = ae.decodeTiled(z, 4, 7);
      double err = relErr(tiled, untiled);
      System.out.printf("tiled decode (2, 16, 9, 13), tile 4, chunk 7: rel L2 %.3e%n", err);
      assertTrue(err <= 1e-5, "rel L2 " + err);
    }
  }

  @Test
  void fp16TiledDecodeAgreesWithTheReference() {
    try (NDManager m = NDManager.newBaseManager();
        AutoEncoder half =
            VaeLoader.load(Fixtures.MODEL, new ComputeTarget(Device.cpu(), DataType.FLOAT16))) {
      NDArray z = tensor(expected, "vae.in.z", m);
      NDArray tiled = half.decodeTiled(z, 8, 0);
      assertEquals(DataType.FLOAT16, tiled.getDataType());
      // float16 convolutions over tiles round differently from those over the whole map.
      double err = relErr(tiled, tensor(expected, "vae.out.decoded", m));
      System.out.printf("fp16 tiled decode, tile 8: rel L2 vs BFL fp32 %.3e%n", err);
      assertTrue(err <= 2e-2, "fp16 rel L2 " + err);
    }
  }

  @Test
  void marginsCoverTheReceptiveField() {
    // FLUX.1's autoencoder: 3 resnet blocks per level (6 convs), 4 levels.
    AutoEncoderParams flux =
        new AutoEncoderParams(
            new AutoencoderDims(3, 128, 3, java.util.List.of(1, 2, 4, 4), 2, 16),
            256,
            0.3611f,
            0.1159f);
    assertArrayEquals(new int[] {7, 10, 12, 13}, TiledDecoder.margins(flux));
    assertArrayEquals(new int[] {5, 7, 8, 9}, TiledDecoder.margins(ae.params()));
  }

  @Test
  void badTileIsRefused() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray z = m.zeros(new Shape(1, 16, 4, 4));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> ae.decodeTiled(z, 0, 0));
      assertTrue(e.getMessage().contains("tile"), e.getMessage());
    }
  }
}
