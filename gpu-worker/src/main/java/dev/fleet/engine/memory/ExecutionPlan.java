package dev.fleet.engine.memory;

import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;

/**
 * How one generation uses device memory, as plain numbers (what a planner decided, mapped by the
 * caller): which DiT blocks stay on the device, where T5 (and with it CLIP) and the autoencoder
 * live, whether the autoencoder decodes in tiles and whether attention runs in query chunks.
 *
 * @param name a label for logs and events (e.g. the planner's plan name)
 * @param residentDoubleBlocks how many of the first double-stream blocks stay on the device; the
 *     rest are streamed from host memory on every forward pass. A count above the model's depth
 *     means all of them.
 * @param residentSingleBlocks the same for the single-stream blocks
 * @param t5 {@link Residency#RESIDENT}: T5 and CLIP stay loaded; {@link Residency#STAGED}: both are
 *     loaded for an encode and released before the DiT runs; {@link Residency#STREAMED}: CLIP is
 *     staged, T5 stays in host memory and only its embedding, position bias and final norm are put
 *     on the device for an encode, its blocks copied one at a time for their call. A cached prompt
 *     loads no encoder at all.
 * @param autoencoder {@link Residency#RESIDENT}: loaded for the pipeline's lifetime; {@link
 *     Residency#STAGED}: loaded for each decode and released after it
 * @param vaeTile 0 decodes the whole latent at once; otherwise the core size in latent pixels of
 *     each decoder tile
 * @param attentionChunk 0 computes attention over all queries at once; otherwise the number of
 *     query rows per chunk, which bounds the (B, H, chunk, L) scores
 * @param budgetBytes device bytes the ledger may book
 * @param t5Storage the first text encoder's layer matrices on the device: {@link StorageType#FP16}
 *     as the checkpoint's floats are computed, or {@link StorageType#FP8}, narrowed to e4m3fn when
 *     loaded and widened layer by layer (NewBie's Gemma 3; FLUX's T5 runs fp16 only)
 */
public record ExecutionPlan(
    String name,
    int residentDoubleBlocks,
    int residentSingleBlocks,
    Residency t5,
    Residency autoencoder,
    int vaeTile,
    int attentionChunk,
    long budgetBytes,
    StorageType t5Storage) {

  /** The first text encoder's matrices in 16 bits. */
  public ExecutionPlan(
      String name,
      int residentDoubleBlocks,
      int residentSingleBlocks,
      Residency t5,
      Residency autoencoder,
      int vaeTile,
      int attentionChunk,
      long budgetBytes) {
    this(
        name,
        residentDoubleBlocks,
        residentSingleBlocks,
        t5,
        autoencoder,
        vaeTile,
        attentionChunk,
        budgetBytes,
        StorageType.FP16);
  }

  /** Below this a tile is mostly margin (the decoder's receptive field is ~13 latent pixels). */
  public static final int MIN_VAE_TILE = 4;

  public ExecutionPlan {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("execution plan needs a name");
    }
    if (t5 == null || autoencoder == null) {
      throw new IllegalArgumentException(
          "plan "
              + name
              + ": T5 and autoencoder residencies must be set, got "
              + t5
              + ", "
              + autoencoder);
    }
    if (autoencoder == Residency.STREAMED) {
      throw new IllegalArgumentException(
          "plan " + name + ": the autoencoder is resident or staged, it does not stream");
    }
    if (residentDoubleBlocks < 0 || residentSingleBlocks < 0) {
      throw new IllegalArgumentException(
          "plan "
              + name
              + ": resident block counts must be >= 0, got double="
              + residentDoubleBlocks
              + ", single="
              + residentSingleBlocks);
    }
    if (vaeTile != 0 && vaeTile < MIN_VAE_TILE) {
      throw new IllegalArgumentException(
          "plan "
              + name
              + ": vaeTile must be 0 (untiled) or >= "
              + MIN_VAE_TILE
              + ", got "
              + vaeTile);
    }
    if (attentionChunk < 0) {
      throw new IllegalArgumentException(
          "plan " + name + ": attentionChunk must be 0 (unchunked) or > 0, got " + attentionChunk);
    }
    if (t5Storage != StorageType.FP16 && t5Storage != StorageType.FP8) {
      throw new IllegalArgumentException(
          "plan " + name + ": the text encoder's matrices are fp16 or fp8, got " + t5Storage);
    }
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException(
          "plan " + name + ": budgetBytes must be positive, got " + budgetBytes);
    }
  }

  /** Everything resident, untiled, unchunked: the fastest plan. */
  public static ExecutionPlan allResident(long budgetBytes) {
    return new ExecutionPlan(
        "all-resident",
        Integer.MAX_VALUE,
        Integer.MAX_VALUE,
        Residency.RESIDENT,
        Residency.RESIDENT,
        0,
        0,
        budgetBytes);
  }

  /** Resident double blocks for a model of {@code depth} double blocks. */
  public int residentDoubleBlocks(int depth) {
    return Math.min(residentDoubleBlocks, depth);
  }

  /** Resident single blocks for a model of {@code depth} single blocks. */
  public int residentSingleBlocks(int depth) {
    return Math.min(residentSingleBlocks, depth);
  }

  public boolean tiledDecode() {
    return vaeTile > 0;
  }

  public boolean chunkedAttention() {
    return attentionChunk > 0;
  }
}
