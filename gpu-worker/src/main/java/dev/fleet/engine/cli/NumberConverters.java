package dev.fleet.engine.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The engine's numeric option values; a bad one is named after its option ({@code --steps ...}).
 */
final class NumberConverters {
  private NumberConverters() {}

  /** A {@code long}. */
  static final class LongValue implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      try {
        return Long.parseLong(value.trim());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("must be an integer, got '" + value + "'");
      }
    }
  }

  /** An {@code int}. */
  static final class IntValue implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      long v = new LongValue().convert(value);
      if (v != (int) v) {
        throw new TypeConversionException("is out of range: " + v);
      }
      return (int) v;
    }
  }

  /** A {@code double}. */
  static final class DoubleValue implements ITypeConverter<Double> {
    @Override
    public Double convert(String value) {
      try {
        return Double.parseDouble(value.trim());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("must be a number, got '" + value + "'");
      }
    }
  }
}
