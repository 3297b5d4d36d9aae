package dev.fleet.engine.flux;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.weights.Weights;

/**
 * No block resident: each block is read from the checkpoint (memory-mapped) onto the compute device
 * right before its call and freed right after. The smallest device footprint, paid for with a
 * host-to-device copy of every block on every forward pass.
 */
public final class OnDemandBlocks implements BlockSource {
  private final ParameterLoader loader;
  private final Device device;
  private final FluxParams params;

  /**
   * @param weights the whole checkpoint (unscoped); its store must outlive this source
   */
  public OnDemandBlocks(Weights weights, FluxParams params) {
    this.loader = ParameterLoader.of(weights);
    this.device = weights.target().device();
    this.params = params;
  }

  @Override
  public BlockLease<DoubleStreamBlock> doubleBlock(int index) {
    NDManager m = NDManager.newBaseManager(device);
    try {
      return BlockLease.owning(
          DoubleStreamBlock.load(loader.scoped("double_blocks." + index), params, m), m);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  @Override
  public BlockLease<SingleStreamBlock> singleBlock(int index) {
    NDManager m = NDManager.newBaseManager(device);
    try {
      return BlockLease.owning(
          SingleStreamBlock.load(loader.scoped("single_blocks." + index), params, m), m);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  @Override
  public void close() {}
}
