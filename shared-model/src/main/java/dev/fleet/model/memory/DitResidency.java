package dev.fleet.model.memory;

import java.util.Objects;

/**
 * How the transformer's blocks live on the device: the first {@code residentDoubleBlocks} double
 * blocks ({@code double_blocks.0 ..}) and the first {@code residentSingleBlocks} single blocks stay
 * there in {@code storage}; every other block is copied from pinned host memory each step, one
 * block ahead of the one computing. The embedders and the final layer are always resident.
 */
public record DitResidency(
    StorageType storage,
    int doubleBlocks,
    int singleBlocks,
    int residentDoubleBlocks,
    int residentSingleBlocks) {

  public DitResidency {
    Objects.requireNonNull(storage, "storage");
    if (doubleBlocks < 0 || singleBlocks < 0) {
      throw new IllegalArgumentException(
          "block counts must not be negative, got " + doubleBlocks + " and " + singleBlocks);
    }
    if (residentDoubleBlocks < 0 || residentDoubleBlocks > doubleBlocks) {
      throw new IllegalArgumentException(
          "resident double blocks must be 0.." + doubleBlocks + ", got " + residentDoubleBlocks);
    }
    if (residentSingleBlocks < 0 || residentSingleBlocks > singleBlocks) {
      throw new IllegalArgumentException(
          "resident single blocks must be 0.." + singleBlocks + ", got " + residentSingleBlocks);
    }
  }

  /** Every block resident. */
  public static DitResidency all(DitDims dit, StorageType storage) {
    return new DitResidency(
        storage, dit.depth(), dit.depthSingleBlocks(), dit.depth(), dit.depthSingleBlocks());
  }

  /** Every block streamed. */
  public static DitResidency none(DitDims dit, StorageType storage) {
    return new DitResidency(storage, dit.depth(), dit.depthSingleBlocks(), 0, 0);
  }

  public int blocks() {
    return doubleBlocks + singleBlocks;
  }

  public int residentBlocks() {
    return residentDoubleBlocks + residentSingleBlocks;
  }

  public int streamedDoubleBlocks() {
    return doubleBlocks - residentDoubleBlocks;
  }

  public int streamedSingleBlocks() {
    return singleBlocks - residentSingleBlocks;
  }

  public boolean fullyResident() {
    return residentBlocks() == blocks();
  }

  public boolean fullyStreamed() {
    return residentBlocks() == 0;
  }
}
