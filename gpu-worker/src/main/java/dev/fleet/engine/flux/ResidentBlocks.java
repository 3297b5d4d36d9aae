package dev.fleet.engine.flux;

import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.weights.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * Every block loaded once and kept on the given manager (the model's, by default): the plan when
 * the whole DiT fits in device memory. The manager's owner frees the blocks, not this source.
 */
public final class ResidentBlocks implements BlockSource {
  private final List<DoubleStreamBlock> doubles;
  private final List<SingleStreamBlock> singles;

  private ResidentBlocks(List<DoubleStreamBlock> doubles, List<SingleStreamBlock> singles) {
    this.doubles = doubles;
    this.singles = singles;
  }

  /**
   * Loads all blocks onto {@code manager}.
   *
   * @param weights the whole checkpoint (unscoped)
   */
  public static ResidentBlocks load(Weights weights, FluxParams params, NDManager manager) {
    ParameterLoader loader = ParameterLoader.of(weights);
    List<DoubleStreamBlock> doubles = new ArrayList<>(params.dims().depth());
    for (int i = 0; i < params.dims().depth(); i++) {
      doubles.add(DoubleStreamBlock.load(loader.scoped("double_blocks." + i), params, manager));
    }
    List<SingleStreamBlock> singles = new ArrayList<>(params.dims().depthSingleBlocks());
    for (int i = 0; i < params.dims().depthSingleBlocks(); i++) {
      singles.add(SingleStreamBlock.load(loader.scoped("single_blocks." + i), params, manager));
    }
    return new ResidentBlocks(List.copyOf(doubles), List.copyOf(singles));
  }

  @Override
  public BlockLease<DoubleStreamBlock> doubleBlock(int index) {
    return BlockLease.resident(doubles.get(index));
  }

  @Override
  public BlockLease<SingleStreamBlock> singleBlock(int index) {
    return BlockLease.resident(singles.get(index));
  }

  @Override
  public void close() {}
}
