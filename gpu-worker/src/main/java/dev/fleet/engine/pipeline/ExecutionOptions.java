package dev.fleet.engine.pipeline;

import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.BlockKernel;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.model.memory.EngineProfile;

/**
 * The device-specific parts of a {@link PlannedPipeline}, with CPU-safe defaults: on a GPU the
 * caller plugs in pinned, non-blocking copies, a float8 cast, a fused attention kernel and the
 * allocator's cache release (e.g. TorchScript helpers).
 *
 * @param hostToDevice how streamed blocks reach the device
 * @param widener how float8 bytes become the compute dtype on the device
 * @param attention the attention kernel; plans with an attention chunk run it per chunk of queries
 * @param blocks how the DiT's blocks compute (DJL's ops, or whole-block TorchScript modules)
 * @param embeddingCache prompt conditionings kept across jobs (shared by every plan)
 * @param releaseDeviceCaches run after an out-of-memory failure, before the retry (e.g. {@code
 *     torch.cuda.empty_cache()})
 * @param listener hears plan changes
 */
public record ExecutionOptions(
    HostToDevice hostToDevice,
    Widener widener,
    AttentionKernel attention,
    BlockKernel blocks,
    PromptEmbeddingCache embeddingCache,
    Runnable releaseDeviceCaches,
    PlanListener listener) {

  public ExecutionOptions {
    if (hostToDevice == null
        || widener == null
        || attention == null
        || blocks == null
        || embeddingCache == null
        || releaseDeviceCaches == null
        || listener == null) {
      throw new IllegalArgumentException("execution options must all be set (use defaults())");
    }
  }

  /** Synchronous DJL copies, the lookup-table widener, eager attention, a default cache. */
  public static ExecutionOptions defaults() {
    return new ExecutionOptions(
        HostToDevice.synchronous(),
        Widener.lookupTable(),
        AttentionKernel.EAGER,
        BlockKernel.DJL,
        PromptEmbeddingCache.defaults(),
        () -> {},
        PlanListener.NONE);
  }

  /**
   * How the memory planner models these kernels: whole-block modules that free temporaries ({@link
   * EngineProfile#DJL_SCRIPTED}), DJL's blocks with fused attention ({@link
   * EngineProfile#DJL_FUSED}) or with DJL's own ({@link EngineProfile#DJL_EAGER}).
   */
  public EngineProfile engineProfile() {
    if (blocks.freesTemporaries()) {
      return EngineProfile.DJL_SCRIPTED;
    }
    return attention.fused() ? EngineProfile.DJL_FUSED : EngineProfile.DJL_EAGER;
  }

  public ExecutionOptions withHostToDevice(HostToDevice h) {
    return new ExecutionOptions(
        h, widener, attention, blocks, embeddingCache, releaseDeviceCaches, listener);
  }

  public ExecutionOptions withWidener(Widener w) {
    return new ExecutionOptions(
        hostToDevice, w, attention, blocks, embeddingCache, releaseDeviceCaches, listener);
  }

  public ExecutionOptions withAttention(AttentionKernel k) {
    return new ExecutionOptions(
        hostToDevice, widener, k, blocks, embeddingCache, releaseDeviceCaches, listener);
  }

  public ExecutionOptions withBlocks(BlockKernel b) {
    return new ExecutionOptions(
        hostToDevice, widener, attention, b, embeddingCache, releaseDeviceCaches, listener);
  }

  public ExecutionOptions withEmbeddingCache(PromptEmbeddingCache c) {
    return new ExecutionOptions(
        hostToDevice, widener, attention, blocks, c, releaseDeviceCaches, listener);
  }

  public ExecutionOptions withReleaseDeviceCaches(Runnable r) {
    return new ExecutionOptions(
        hostToDevice, widener, attention, blocks, embeddingCache, r, listener);
  }

  public ExecutionOptions withListener(PlanListener l) {
    return new ExecutionOptions(
        hostToDevice, widener, attention, blocks, embeddingCache, releaseDeviceCaches, l);
  }
}
