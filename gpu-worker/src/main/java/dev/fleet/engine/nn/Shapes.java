package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Checks of a model input's shape, with an error that names the input and both shapes. */
public final class Shapes {
  private Shapes() {}

  /**
   * Requires {@code x} to have {@code expected}'s rank and sizes ({@code -1}: any size there).
   *
   * @throws IllegalArgumentException "NAME must have shape (b, *, c), got (…)"
   */
  public static void require(String name, NDArray x, long... expected) {
    Shape s = x.getShape();
    boolean ok = s.dimension() == expected.length;
    for (int i = 0; ok && i < expected.length; i++) {
      ok = expected[i] < 0 || s.get(i) == expected[i];
    }
    if (!ok) {
      StringBuilder want = new StringBuilder("(");
      for (int i = 0; i < expected.length; i++) {
        want.append(i > 0 ? ", " : "").append(expected[i] < 0 ? "*" : expected[i]);
      }
      throw new IllegalArgumentException(name + " must have shape " + want + "), got " + s);
    }
  }
}
