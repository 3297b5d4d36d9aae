package dev.fleet.engine.safetensors;

import java.util.Locale;

/** Element types of the safetensors format that the engine reads or writes. */
public enum DType {
  F64(8),
  F32(4),
  F16(2),
  BF16(2),
  F8_E4M3(1),
  F8_E5M2(1),
  I64(8),
  I32(4),
  I16(2),
  I8(1),
  U8(1),
  BOOL(1);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }

  /** True for the types the engine computes with after widening. */
  public boolean isFloating() {
    return switch (this) {
      case F64, F32, F16, BF16, F8_E4M3, F8_E5M2 -> true;
      default -> false;
    };
  }

  /** True for the two float8 formats (e4m3fn and e5m2). */
  public boolean isFloat8() {
    return this == F8_E4M3 || this == F8_E5M2;
  }

  /**
   * Parses a header dtype string ("F32", "BF16", "F8_E4M3" ...).
   *
   * @throws SafetensorsException naming the file and tensor when the type is unknown
   */
  static DType parse(String text, String file, String tensor) {
    try {
      return valueOf(text.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new SafetensorsException(
          file,
          tensor,
          "unknown dtype '" + text + "' (supported: " + java.util.Arrays.toString(values()) + ")");
    }
  }
}
