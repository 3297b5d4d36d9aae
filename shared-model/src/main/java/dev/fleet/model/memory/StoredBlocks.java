package dev.fleet.model.memory;

/**
 * The transformer's blocks as a checkpoint really stores them, measured from its header: what one
 * block of each kind takes on the device (the largest of its kind), and how many of its weights are
 * float8 (widened to fp16 while the block computes). It sizes a mixed checkpoint (some matrices
 * float8, some 16-bit) exactly where a single {@link StorageType} cannot.
 *
 * @param doubleBlockBytes device bytes of the largest double block: float8 weights one byte each
 *     plus one float32 scale per float8 matrix, everything else in fp16
 * @param singleBlockBytes the same for the single blocks
 * @param doubleBlockFloat8Params float8 weights of the double block with the most
 * @param singleBlockFloat8Params the same for the single blocks
 */
public record StoredBlocks(
    long doubleBlockBytes,
    long singleBlockBytes,
    long doubleBlockFloat8Params,
    long singleBlockFloat8Params) {

  public StoredBlocks {
    if (doubleBlockBytes < 0
        || singleBlockBytes < 0
        || doubleBlockFloat8Params < 0
        || singleBlockFloat8Params < 0) {
      throw new IllegalArgumentException("stored block sizes must not be negative");
    }
  }
}
