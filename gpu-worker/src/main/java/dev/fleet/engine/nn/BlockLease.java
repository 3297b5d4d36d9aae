package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/**
 * A transformer block's parameters, usable until the lease is closed. The forward pass holds one
 * lease per block call, so a source can load or move a block just before its call and free it just
 * after.
 *
 * @param <T> the block type (the DiT's double- or single-stream block, a T5 layer ...)
 */
public interface BlockLease<T> extends AutoCloseable {

  T block();

  /**
   * {@code NAME.weight_scale} float32 scalars (on the block's device) of the block's float8
   * matrices whose values are multiplied by a scale when widened, when the block was handed out
   * with its matrices as stored (see {@code BlockKernel.takesStoredWeights()}); empty otherwise.
   */
  default Map<String, NDArray> weightScales() {
    return Map.of();
  }

  /** Ends the lease; the block must not be used afterwards. */
  @Override
  void close();

  /** A lease on a block that stays loaded: closing it does nothing. */
  static <T> BlockLease<T> resident(T block) {
    return new BlockLease<>() {
      @Override
      public T block() {
        return block;
      }

      @Override
      public void close() {}
    };
  }

  /** A lease on a block loaded for this call only: closing it frees the block's manager. */
  static <T> BlockLease<T> owning(T block, NDManager manager) {
    return new BlockLease<>() {
      @Override
      public T block() {
        return block;
      }

      @Override
      public void close() {
        manager.close();
      }
    };
  }
}
