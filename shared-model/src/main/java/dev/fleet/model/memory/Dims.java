package dev.fleet.model.memory;

/** Checks shared by the dimension records: every size names itself when it is wrong. */
final class Dims {
  private Dims() {}

  static void positive(String owner, String name, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(owner + ": " + name + " must be positive, got " + value);
    }
  }

  /**
   * Parameters of a linear layer: an {@code out x in} matrix and, optionally, {@code out} biases.
   */
  static long linear(long out, long in, boolean bias) {
    return out * in + (bias ? out : 0);
  }
}
