package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.Map;

/**
 * How a DiT block's computation runs: through DJL's own operations as the block records are written
 * ({@link #DJL}), or handed whole to a kernel that computes the block elsewhere (e.g. a TorchScript
 * module that widens each float8 matrix right before its matmul and runs the element-wise chains as
 * single kernels).
 */
public interface BlockKernel {

  /**
   * True when this kernel takes a block's matrices as they are stored (float8 not widened, each
   * with its value scale in {@code scales}) and widens them itself, one at a time; false when a
   * block source must hand out blocks already in the compute dtype.
   */
  boolean takesStoredWeights();

  /**
   * True when a block's temporaries are freed after their last use (as PyTorch frees them), false
   * when they all live until the block returns (one DJL scope per block): what the ledger books a
   * forward pass's activations by.
   */
  boolean freesTemporaries();

  /**
   * One double-stream block.
   *
   * @param scales {@code NAME.weight_scale} float32 scalars of stored float8 matrices whose values
   *     are multiplied by a scale when widened (empty when none is, or when the weights are
   *     widened)
   * @return the new img and txt, on img's manager
   */
  NDList doubleBlock(
      DoubleStreamBlock block,
      Map<String, NDArray> scales,
      NDArray img,
      NDArray txt,
      NDArray vec,
      FluxAttention attention);

  /**
   * One single-stream block.
   *
   * @param scales as for {@link #doubleBlock}
   * @return the new joint sequence, on x's manager
   */
  NDArray singleBlock(
      SingleStreamBlock block,
      Map<String, NDArray> scales,
      NDArray x,
      NDArray vec,
      FluxAttention attention);

  /** The blocks' own forward passes through DJL's operations, on widened weights. */
  BlockKernel DJL =
      new BlockKernel() {
        @Override
        public boolean takesStoredWeights() {
          return false;
        }

        @Override
        public boolean freesTemporaries() {
          return false;
        }

        @Override
        public NDList doubleBlock(
            DoubleStreamBlock block,
            Map<String, NDArray> scales,
            NDArray img,
            NDArray txt,
            NDArray vec,
            FluxAttention attention) {
          return block.forward(img, txt, vec, attention);
        }

        @Override
        public NDArray singleBlock(
            SingleStreamBlock block,
            Map<String, NDArray> scales,
            NDArray x,
            NDArray vec,
            FluxAttention attention) {
          return block.forward(x, vec, attention);
        }
      };
}
