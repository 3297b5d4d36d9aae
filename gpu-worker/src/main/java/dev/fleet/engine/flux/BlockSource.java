package dev.fleet.engine.flux;

import dev.fleet.engine.nn.BlockLease;

/**
 * Where the transformer blocks' parameters live between calls, decided outside the model (by a
 * memory plan): the forward pass asks for block {@code i} right before calling it and closes the
 * lease right after, in the order double 0..depth-1, then single 0..depth_single-1, once per
 * forward pass. Whatever the source, a leased block's arrays must be on the compute device in the
 * compute dtype.
 */
public interface BlockSource extends AutoCloseable {

  /** The parameters of {@code double_blocks.index}. */
  BlockLease<DoubleStreamBlock> doubleBlock(int index);

  /** The parameters of {@code single_blocks.index}. */
  BlockLease<SingleStreamBlock> singleBlock(int index);

  /** Frees what the source owns. */
  @Override
  void close();
}
