package dev.fleet.engine.safetensors;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a safetensors file: where its bytes are, not the bytes themselves.
 *
 * @param begin offset of the first byte relative to the start of the data section
 * @param end offset one past the last byte relative to the start of the data section
 */
public record TensorEntry(Path file, String name, DType dtype, long[] shape, long begin, long end) {

  public TensorEntry {
    shape = shape.clone();
  }

  /** Number of elements. */
  public long elements() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  public long byteSize() {
    return end - begin;
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorEntry t
        && file.equals(t.file)
        && name.equals(t.name)
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && begin == t.begin
        && end == t.end;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }
}
