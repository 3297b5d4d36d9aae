package dev.fleet.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * "The same tensor" for floating-point results of two code paths (streamed vs resident blocks,
 * tiled vs untiled decode, chunked vs eager attention, fp16 vs fp32, this engine vs the reference
 * implementations), or of one code path on two processors: a relative L2 error {@code ||actual -
 * expected|| / ||expected||} within a bound that the test states, as {@code tools/stcompare.py} and
 * the parity checks measure it.
 *
 * <p>libtorch's CPU kernels round differently from one processor to the next, so a bound of zero
 * between two code paths holds only on the machine that measured it. Where the same code runs twice
 * in one process on the same inputs the values are equal on any machine: compare those exactly.
 */
public final class TensorAssert {
  private TensorAssert() {}

  /**
   * {@code ||actual - expected|| / ||expected||}, accumulated in double; 0 for two all-zero
   * tensors, infinite when only {@code expected} is all zero, NaN when {@code actual} holds a NaN.
   */
  public static double relErr(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, "element count");
    double d = 0;
    double n = 0;
    for (int i = 0; i < expected.length; i++) {
      double diff = (double) actual[i] - expected[i];
      d += diff * diff;
      n += expected[i] * (double) expected[i];
    }
    if (n == 0) {
      return d == 0 ? 0 : d > 0 ? Double.POSITIVE_INFINITY : Double.NaN;
    }
    return Math.sqrt(d / n);
  }

  /**
   * Fails unless {@code actual} is within relative L2 error {@code maxRelErr} of {@code expected}
   * (a NaN always fails); returns the error, for the test to print.
   */
  public static double assertClose(
      float[] expected, float[] actual, double maxRelErr, String what) {
    assertTrue(maxRelErr >= 0, "a bound is not negative: " + maxRelErr);
    double err = relErr(expected, actual);
    assertTrue(err <= maxRelErr, String.format("%s: rel L2 %.3e > %.1e", what, err, maxRelErr));
    return err;
  }
}
