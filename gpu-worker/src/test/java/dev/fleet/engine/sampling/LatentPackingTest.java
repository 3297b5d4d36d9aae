package dev.fleet.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class LatentPackingTest {

  @Test
  void packPlacesEachPatchChannelMajorAndUnpackInverts() {
    try (NDManager m = NDManager.newBaseManager()) {
      int c = 3;
      int hh = 4;
      int ww = 6;
      NDArray latent =
          m.arange(2 * c * hh * ww).toType(DataType.FLOAT32, false).reshape(2, c, hh, ww);
      NDArray packed = LatentPacking.pack(latent);
      assertEquals(new Shape(2, (hh / 2) * (ww / 2), c * 4), packed.getShape());
      float[] lat = latent.toFloatArray();
      float[] pk = packed.toFloatArray();
      for (int b = 0; b < 2; b++) {
        for (int r = 0; r < hh / 2; r++) {
          for (int col = 0; col < ww / 2; col++) {
            for (int ch = 0; ch < c; ch++) {
              for (int ph = 0; ph < 2; ph++) {
                for (int pw = 0; pw < 2; pw++) {
                  int token = r * (ww / 2) + col;
                  int feature = ch * 4 + ph * 2 + pw;
                  float expected = lat[((b * c + ch) * hh + 2 * r + ph) * ww + 2 * col + pw];
                  assertEquals(expected, pk[(b * (hh / 2) * (ww / 2) + token) * c * 4 + feature]);
                }
              }
            }
          }
        }
      }
      assertArrayEquals(lat, LatentPacking.unpack(packed, hh / 2, ww / 2).toFloatArray());
    }
  }

  @Test
  void imageIdsHoldRowAndColumn() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray ids = LatentPacking.imageIds(m, 1, 2, 3, DataType.FLOAT32);
      assertArrayEquals(
          new float[] {0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2}, ids.toFloatArray());
      assertEquals(new Shape(2, 5, 3), LatentPacking.textIds(m, 2, 5, DataType.FLOAT32).getShape());
    }
  }
}
