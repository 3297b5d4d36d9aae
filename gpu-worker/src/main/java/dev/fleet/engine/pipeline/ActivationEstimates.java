package dev.fleet.engine.pipeline;

import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;

/**
 * Device bytes of the activations that the executor books in its ledger (weights are booked by
 * their exact size): the memory planner's own figures ({@link FluxMemoryModel}, under the {@link
 * EngineProfile} of the kernels that run), so that a plan the planner accepted is one the ledger
 * admits — the two cannot drift apart (PlannerLedgerAgreementTest sweeps models, sizes and
 * budgets). The planner counts float16; a float32 executor books twice that.
 */
public final class ActivationEstimates {
  private ActivationEstimates() {}

  /** The planner's model of one job of {@code width x height} under {@code engine}. */
  static FluxMemoryModel model(FluxDims dims, int width, int height, EngineProfile engine) {
    return dims.memoryModel(new Workload(width, height, 1, StorageType.FP8), engine);
  }

  /**
   * One DiT forward pass: the larger block's activation peak (with the residual streams it holds)
   * plus the RoPE tables.
   *
   * @param attentionChunk query rows per chunk, 0 for all
   * @param dtypeBytes bytes per element of the compute dtype
   */
  public static long ditForward(FluxMemoryModel m, int attentionChunk, int dtypeBytes) {
    long blocks =
        Math.max(
            m.doubleBlockActivationBytes(attentionChunk),
            m.singleBlockActivationBytes(attentionChunk));
    return scaled(blocks, dtypeBytes) + m.ropeBytes();
  }

  /** T5 then CLIP, one after the other: the larger of the two. */
  public static long textEncode(FluxMemoryModel m, int dtypeBytes) {
    return scaled(Math.max(m.t5ActivationBytes(), m.clipActivationBytes()), dtypeBytes);
  }

  /**
   * The decode beyond the job's latents (booked with the job): the decoder's activations, whole or
   * one tile at a time, and the decoded float32 image.
   *
   * @param tilePixels tile side in image pixels, 0 for untiled
   */
  public static long vaeDecode(FluxMemoryModel m, int tilePixels, int dtypeBytes) {
    return m.decodeActivationBytes(tilePixels, dtypeBytes);
  }

  /** A float16 count in the compute dtype. */
  private static long scaled(long float16Bytes, int dtypeBytes) {
    return float16Bytes / 2 * dtypeBytes;
  }
}
