package dev.fleet.engine.gpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.fleet.engine.flux.BlockKernel;
import dev.fleet.engine.flux.DoubleStreamBlock;
import dev.fleet.engine.flux.FluxAttention;
import dev.fleet.engine.flux.SingleStreamBlock;
import java.util.HashMap;
import java.util.Map;

/**
 * The DiT's blocks computed whole by the TorchScript block modules: a block's float8 matrices
 * widened one at a time right before their matmul (or multiplied in float8 on fp8 tensor cores with
 * {@code fp8Matmul}), LayerNorm, tanh-GELU, modulation and gated residuals as single kernels, fused
 * attention, and each temporary freed after its last use — what DJL's per-op execution of the block
 * records cannot do. Attention chunking does not apply: the fused attention never holds the scores.
 */
public final class ScriptedBlocks implements BlockKernel {
  private final TorchScriptHelpers helpers;
  private final boolean fp8Matmul;

  /**
   * @param fp8Matmul multiply float8-stored matrices in float8 ({@code torch._scaled_mm}, with a
   *     dynamic per-tensor activation scale): needs fp8 tensor cores (compute capability 8.9+)
   */
  public ScriptedBlocks(TorchScriptHelpers helpers, boolean fp8Matmul) {
    this.helpers = helpers;
    this.fp8Matmul = fp8Matmul;
  }

  @Override
  public boolean takesStoredWeights() {
    return true;
  }

  @Override
  public boolean freesTemporaries() {
    return true;
  }

  @Override
  public NDList doubleBlock(
      DoubleStreamBlock block,
      Map<String, NDArray> scales,
      NDArray img,
      NDArray txt,
      NDArray vec,
      FluxAttention attention) {
    return helpers.doubleBlock(
        fp8Matmul,
        with(block.parameters(), scales),
        img,
        txt,
        vec,
        attention.pe().cos(),
        attention.pe().sin(),
        block.imgAttn().heads());
  }

  @Override
  public NDArray singleBlock(
      SingleStreamBlock block,
      Map<String, NDArray> scales,
      NDArray x,
      NDArray vec,
      FluxAttention attention) {
    return helpers.singleBlock(
        fp8Matmul,
        with(block.parameters(), scales),
        x,
        vec,
        attention.pe().cos(),
        attention.pe().sin(),
        block.heads());
  }

  private static Map<String, NDArray> with(Map<String, NDArray> params, Map<String, NDArray> more) {
    if (more.isEmpty()) {
      return params;
    }
    Map<String, NDArray> all = new HashMap<>(params);
    all.putAll(more);
    return all;
  }
}
