package dev.fleet.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

class TensorAssertTest {
  @Test
  void relErrIsTheNormOfTheDifferenceOverTheNormOfTheExpected() {
    float[] expected = {3, 4}; // norm 5
    assertEquals(0, TensorAssert.relErr(expected, expected.clone()));
    assertEquals(0.1, TensorAssert.relErr(expected, new float[] {3, 4.5f}), 1e-12);
    assertEquals(0, TensorAssert.relErr(new float[2], new float[2]));
    assertEquals(Double.POSITIVE_INFINITY, TensorAssert.relErr(new float[2], new float[] {0, 1}));
    assertTrue(Double.isNaN(TensorAssert.relErr(expected, new float[] {3, Float.NaN})));
  }

  @Test
  void roundingNoiseWithinTheBoundPasses() {
    float[] expected = new float[1000];
    float[] actual = new float[1000];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (float) Math.sin(i);
      actual[i] = Math.nextUp(expected[i]); // one ulp: rel L2 about 6e-8
    }
    double err = TensorAssert.assertClose(expected, actual, 1e-6, "one ulp");
    assertTrue(err > 0 && err < 1e-7, "rel L2 " + err);
  }

  @Test
  void anErrorAboveTheBoundFails() {
    float[] expected = {1, 2, 3, 4};
    float[] actual = {1, 2, 3, 4.01f}; // rel L2 1.8e-3
    AssertionFailedError e =
        assertThrows(
            AssertionFailedError.class,
            () -> TensorAssert.assertClose(expected, actual, 1e-3, "latents"));
    assertTrue(e.getMessage().startsWith("latents: rel L2 1.826e-03 > 1.0e-03"), e.getMessage());
    TensorAssert.assertClose(expected, actual, 2e-3, "latents");
  }

  @Test
  void nanAndMismatchedLengthsFail() {
    float[] expected = {1, 2};
    assertThrows(
        AssertionFailedError.class,
        () -> TensorAssert.assertClose(expected, new float[] {1, Float.NaN}, 1, "nan"));
    assertThrows(
        AssertionFailedError.class,
        () -> TensorAssert.assertClose(expected, new float[] {1, 2, 3}, 1, "length"));
  }
}
