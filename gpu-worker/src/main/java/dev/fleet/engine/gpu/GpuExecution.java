package dev.fleet.engine.gpu;

import ai.djl.pytorch.jni.JniUtils;
import dev.fleet.engine.flux.BlockKernel;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.weights.ComputeTarget;

/**
 * How a pipeline runs on a GPU with the TorchScript helpers: pinned host weights copied on a side
 * stream, float8 widened on the device, fused attention, whole-block modules where they are on the
 * class path, and the caching allocator emptied after an out-of-memory failure. The one place the
 * worker and the benchmarks get these options from.
 */
public final class GpuExecution {
  private GpuExecution() {}

  /**
   * {@code base} with the GPU parts plugged in, or {@code base} itself when {@code helpers} is null
   * (no GPU, or no helpers).
   *
   * @param fp8Matmul multiply float8-stored matrices in float8 (see {@link ScriptedBlocks})
   */
  public static ExecutionOptions options(
      ExecutionOptions base, TorchScriptHelpers helpers, ComputeTarget target, boolean fp8Matmul) {
    if (helpers == null) {
      return base;
    }
    PinnedUploads uploads = new PinnedUploads(helpers, target.device());
    return base.withHostToDevice(uploads)
        .withWidener(uploads.widener())
        .withAttention(new FusedAttention(helpers))
        .withBlocks(
            TorchScriptHelpers.blocksAvailable()
                ? new ScriptedBlocks(helpers, fp8Matmul)
                : BlockKernel.DJL)
        .withReleaseDeviceCaches(JniUtils::emptyCudaCache);
  }
}
