package dev.fleet.model.memory;

import java.util.Objects;

/**
 * The shape of one job as memory sees it: image size, images per forward pass and how the DiT's
 * weights are stored (fp8 as the fleet runs it, or fp16).
 *
 * @param batch images denoised together in one forward pass
 * @param ditStorage storage of the transformer blocks' matrices on the wire and on the device: fp8
 *     (widened to fp16 right before use) or fp16
 * @param storedBlocks the blocks as a checkpoint really stores them, which then size them instead
 *     of {@code ditStorage} (a mixed checkpoint); null to size them by {@code ditStorage}
 * @param adapters the job's LoRA adapters
 * @param textStorage storage of the first text encoder's layer matrices on the device: fp16 (as
 *     computed) or fp8 (e4m3fn with a scale per matrix, widened layer by layer right before use),
 *     for a family whose memory model offers it (NewBie's Gemma 3); FLUX's T5 is always fp16
 */
public record Workload(
    int width,
    int height,
    int batch,
    StorageType ditStorage,
    StoredBlocks storedBlocks,
    AdapterLoad adapters,
    StorageType textStorage) {

  /** The first text encoder's matrices in 16 bits. */
  public Workload(
      int width,
      int height,
      int batch,
      StorageType ditStorage,
      StoredBlocks storedBlocks,
      AdapterLoad adapters) {
    this(width, height, batch, ditStorage, storedBlocks, adapters, StorageType.COMPUTE);
  }

  /** No LoRA adapters. */
  public Workload(
      int width, int height, int batch, StorageType ditStorage, StoredBlocks storedBlocks) {
    this(width, height, batch, ditStorage, storedBlocks, AdapterLoad.NONE);
  }

  /** Blocks sized by {@code ditStorage}. */
  public Workload(int width, int height, int batch, StorageType ditStorage) {
    this(width, height, batch, ditStorage, null);
  }

  public Workload {
    adapters = adapters == null ? AdapterLoad.NONE : adapters;
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException(
          "width and height must be positive, got " + width + "x" + height);
    }
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be at least 1, got " + batch);
    }
    Objects.requireNonNull(ditStorage, "ditStorage");
    if (ditStorage != StorageType.FP8 && ditStorage != StorageType.FP16) {
      throw new IllegalArgumentException(
          "the DiT is stored on the device as fp8 or fp16, got "
              + ditStorage.label()
              + " (bf16 and fp32 checkpoints are widened or narrowed to fp16 on the host)");
    }
    Objects.requireNonNull(textStorage, "textStorage");
    if (textStorage != StorageType.FP8 && textStorage != StorageType.FP16) {
      throw new IllegalArgumentException(
          "the text encoder's matrices are stored on the device as fp8 or fp16, got "
              + textStorage.label());
    }
  }

  /** One fp8 image of {@code width x height}: how the fleet runs jobs. */
  public static Workload of(int width, int height) {
    return new Workload(width, height, 1, StorageType.FP8);
  }

  /** This workload with LoRA adapters. */
  public Workload withAdapters(AdapterLoad load) {
    return new Workload(width, height, batch, ditStorage, storedBlocks, load, textStorage);
  }

  /** This workload with the first text encoder's matrices stored as {@code storage}. */
  public Workload withTextStorage(StorageType storage) {
    return new Workload(width, height, batch, ditStorage, storedBlocks, adapters, storage);
  }

  public long pixels() {
    return (long) width * height;
  }
}
