package dev.fleet.model.memory;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a weight is stored, in host memory, on the wire and on the device: bytes per element. The GPU
 * computes in {@link #COMPUTE} (DJL's PyTorch engine has no bfloat16 and no float8 compute:
 * ARCHITECTURE.md, "Numerics"), so fp8 and bf16 weights are widened to fp16 before use.
 */
public enum StorageType {
  FP32(4),
  FP16(2),
  BF16(2),
  /** float8 e4m3fn: widened exactly to fp16 on the device right before use. */
  FP8(1);

  /** The dtype of activations and of widened weights on the GPU: fp16, 2 bytes. */
  public static final StorageType COMPUTE = FP16;

  private final int bytes;

  StorageType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** {@code fp8}, {@code fp16} ...: the name command lines and JSON use. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * A storage type by its label, case-insensitively.
   *
   * @throws IllegalArgumentException naming the known labels
   */
  public static StorageType parse(String label) {
    for (StorageType t : values()) {
      if (t.label().equalsIgnoreCase(label.trim())) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        "unknown storage type '"
            + label
            + "' (known: "
            + Arrays.stream(values()).map(StorageType::label).collect(Collectors.joining(", "))
            + ")");
  }
}
