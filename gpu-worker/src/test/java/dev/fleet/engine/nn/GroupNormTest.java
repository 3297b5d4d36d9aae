package dev.fleet.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class GroupNormTest {

  @Test
  void matchesTheDefinitionPerSampleAndGroup() {
    try (NDManager m = NDManager.newBaseManager()) {
      int groups = 4;
      NDArray x = m.randomNormal(new Shape(2, 8, 3, 5)).mul(3f).add(1f);
      NDArray gamma = m.randomNormal(new Shape(8, 1, 1));
      NDArray beta = m.randomNormal(new Shape(8, 1, 1));
      NDArray out = new GroupNorm(gamma, beta, groups, 1e-6f).forward(x);

      NDArray grouped = x.toType(DataType.FLOAT64, false).reshape(2, groups, -1);
      NDArray mean = grouped.mean(new int[] {2}, true);
      NDArray var = grouped.sub(mean).square().mean(new int[] {2}, true);
      NDArray want =
          grouped
              .sub(mean)
              .div(var.add(1e-6).sqrt())
              .reshape(2, 8, 3, 5)
              .mul(gamma.toType(DataType.FLOAT64, false))
              .add(beta.toType(DataType.FLOAT64, false));
      double err =
          out.toType(DataType.FLOAT64, false).sub(want).norm().getDouble()
              / want.norm().getDouble();
      assertTrue(err < 1e-6, "rel L2 " + err);
    }
  }

  @Test
  void keepsTheInputDtype() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray ones = m.ones(new Shape(4, 1, 1), DataType.FLOAT16);
      NDArray zeros = m.zeros(new Shape(4, 1, 1), DataType.FLOAT16);
      NDArray x = m.randomNormal(new Shape(1, 4, 2, 2)).toType(DataType.FLOAT16, false);
      assertEquals(DataType.FLOAT16, new GroupNorm(ones, zeros, 2, 1e-6f).forward(x).getDataType());
    }
  }

  @Test
  void channelsMustSplitIntoGroups() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray p = m.ones(new Shape(6, 1, 1));
      Exception e =
          assertThrows(IllegalArgumentException.class, () -> new GroupNorm(p, p, 4, 1e-6f));
      assertTrue(e.getMessage().contains("6 channels"), e.getMessage());
    }
  }
}
