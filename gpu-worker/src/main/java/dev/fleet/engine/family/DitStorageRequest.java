package dev.fleet.engine.family;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a caller asks for the denoiser's blocks to be held: as the checkpoint stores them ({@link
 * #NATIVE}: fp8 checkpoints stay fp8, 16- and 32-bit ones sit in 16 bits), or in float8 ({@link
 * #FP8}: a 16- or 32-bit checkpoint's block matrices narrowed to e4m3fn with a per-tensor scale
 * when loaded, which a family may not offer). The planner prices the blocks and the executor loads
 * them by the same answer ({@link ModelFamily#ditStorage(dev.fleet.engine.model.ModelLocation,
 * DitStorageRequest)}).
 */
public enum DitStorageRequest {
  NATIVE,
  FP8;

  /** The name the CLI and the worker's configuration use. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * {@code native} or {@code fp8}, in any case.
   *
   * @throws IllegalArgumentException naming the value and the choices
   */
  public static DitStorageRequest parse(String value) {
    for (DitStorageRequest r : values()) {
      if (r.label().equalsIgnoreCase(value == null ? "" : value.strip())) {
        return r;
      }
    }
    throw new IllegalArgumentException(
        "DiT storage '"
            + value
            + "' is none of "
            + Arrays.stream(values())
                .map(DitStorageRequest::label)
                .collect(Collectors.joining(", ")));
  }
}
