package dev.fleet.engine.gpu;

import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.EngineProfile;

/**
 * How this engine computes on a target, as the memory planner models it: the one place that says
 * whether the TorchScript helpers run (fused attention, pinned uploads) and so which {@link
 * EngineProfile} plans must be made for.
 */
public final class EngineProfiles {
  private EngineProfiles() {}

  /** True on a GPU whose helper archives are on the class path: the helpers run there. */
  public static boolean usesHelpers(ComputeTarget target) {
    return target.device().isGpu() && TorchScriptHelpers.available();
  }

  /** True where the whole-block TorchScript modules run (the helpers run and include them). */
  public static boolean usesScriptedBlocks(ComputeTarget target) {
    return usesHelpers(target) && TorchScriptHelpers.blocksAvailable();
  }

  /**
   * {@link EngineProfile#DJL_SCRIPTED} where the block modules run ({@link ScriptedBlocks}), {@link
   * EngineProfile#DJL_FUSED} where only the other helpers do (fused attention), otherwise {@link
   * EngineProfile#DJL_EAGER} (DJL's own matmul-softmax-matmul attention).
   */
  public static EngineProfile forTarget(ComputeTarget target) {
    if (usesScriptedBlocks(target)) {
      return EngineProfile.DJL_SCRIPTED;
    }
    return usesHelpers(target) ? EngineProfile.DJL_FUSED : EngineProfile.DJL_EAGER;
  }
}
