package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;

/**
 * How a transformer checkpoint stores its weights, with the file name the bundled fixture uses for
 * each (so that several can sit side by side in {@code transformer/}).
 */
public enum DitStorage {
  /** Everything float32. */
  F32("flux.safetensors"),
  /** Everything bfloat16, as {@code flux1-dev.safetensors}. */
  BF16("flux-bf16.safetensors"),
  /** The blocks' matrices float8 e4m3fn, everything else bfloat16, as the common fp8 files. */
  F8_E4M3("flux-fp8-e4m3fn.safetensors");

  private final String fileName;

  DitStorage(String fileName) {
    this.fileName = fileName;
  }

  public String fileName() {
    return fileName;
  }

  /** The storage type of one tensor. */
  public DType dtypeOf(TensorSpec t) {
    return switch (this) {
      case F32 -> DType.F32;
      case BF16 -> DType.BF16;
      case F8_E4M3 -> DitLayout.isBlockLinearWeight(t) ? DType.F8_E4M3 : DType.BF16;
    };
  }
}
