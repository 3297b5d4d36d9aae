package dev.fleet.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class Conv2dTest {

  @Test
  void pointwiseConvIsAChannelMatmul() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.randomNormal(new Shape(2, 3, 4, 5));
      NDArray w = m.randomNormal(new Shape(6, 3, 1, 1));
      NDArray b = m.randomNormal(new Shape(6));
      NDArray out = new Conv2d(w, b, 1, 0).forward(x);
      NDArray want =
          w.reshape(6, 3)
              .matMul(x.transpose(1, 0, 2, 3).reshape(3, -1))
              .reshape(6, 2, 4, 5)
              .transpose(1, 0, 2, 3)
              .add(b.reshape(1, 6, 1, 1));
      assertTrue(out.sub(want).abs().max().getFloat() < 1e-5f);
      NDArray noBias = new Conv2d(w, null, 1, 0).forward(x);
      assertTrue(noBias.add(b.reshape(1, 6, 1, 1)).sub(want).abs().max().getFloat() < 1e-5f);
    }
  }

  @Test
  void strideAndPaddingSetTheOutputSize() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.randomNormal(new Shape(1, 2, 9, 8));
      NDArray w = m.randomNormal(new Shape(4, 2, 3, 3));
      assertEquals(new Shape(1, 4, 9, 8), new Conv2d(w, null, 1, 1).forward(x).getShape());
      assertEquals(new Shape(1, 4, 4, 3), new Conv2d(w, null, 2, 0).forward(x).getShape());
    }
  }
}
