package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Adapters;

/**
 * NewBie's classifier-free guidance ({@code forward_with_cfg} of the CLIP Next-DiT) over a batch of
 * [conditional, unconditional] halves. While t &lt; {@code cfgTrunc}: one batched pass, {@code g =
 * uncond + scale·(cond − uncond)}, and when {@code renormCfg > 0} and ‖g‖ ≥ renormCfg·‖cond‖ (L2
 * over all of C, H, W) g is rescaled to renormCfg·‖cond‖ — the original clamps only then
 * (diffusers' Lumina 2 always rescales; this follows the original). From {@code cfgTrunc} on, the
 * conditional half alone (batch 1). Either way both halves get the result.
 *
 * @param scale guidance scale
 * @param cfgTrunc model time from which the unconditional pass is skipped
 * @param renormCfg norm clamp factor; 0 for none
 */
public record GuidedVelocity(float scale, float cfgTrunc, float renormCfg) {

  /** What one call did: whether guidance ran and whether the norm clamp rescaled it. */
  public record Applied(boolean guided, boolean clamped) {}

  /**
   * @param x (2, C, H, W) latents, [cond, uncond] halves
   * @param t (2) model time (both the same)
   * @param capFeats (2, Lc, F) [prompt, negative] caption features
   * @param capMask (2, Lc)
   * @param pooled (2, clip_text_dim)
   * @param applied receives what was done, or null
   * @return (2, C, H, W) the guided velocity twice, on x's manager
   */
  public NDArray forward(
      NextDitTransformer model,
      NDArray x,
      NDArray t,
      NDArray capFeats,
      NDArray capMask,
      NDArray pooled,
      Applied[] applied) {
    return forward(model, x, t, capFeats, capMask, pooled, Adapters.NONE, applied);
  }

  /**
   * As {@link #forward(NextDitTransformer, NDArray, NDArray, NDArray, NDArray, NDArray,
   * Applied[])}, every pass with the LoRA side paths {@code adapters}.
   */
  public NDArray forward(
      NextDitTransformer model,
      NDArray x,
      NDArray t,
      NDArray capFeats,
      NDArray capMask,
      NDArray pooled,
      Adapters adapters,
      Applied[] applied) {
    if (x.getShape().get(0) != 2) {
      throw new IllegalArgumentException(
          "guidance needs a [cond, uncond] batch of 2, got " + x.getShape());
    }
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x, t, capFeats, capMask, pooled);
      float time = t.toFloatArray()[0];
      NDArray g;
      boolean guided = time < cfgTrunc;
      boolean clamped = false;
      if (guided) {
        NDArray out = model.forward(x, t, capFeats, capMask, pooled, adapters);
        NDArray cond = out.get("0:1");
        NDArray uncond = out.get("1:2");
        g = uncond.add(cond.sub(uncond).mul(scale));
        if (renormCfg > 0) {
          float condNorm = cond.norm().toFloatArray()[0] * renormCfg;
          float guidedNorm = g.norm().toFloatArray()[0];
          if (guidedNorm >= condNorm) {
            g = g.mul(condNorm / guidedNorm);
            clamped = true;
          }
        }
      } else {
        g =
            model.forward(
                x.get("0:1"),
                t.get("0:1"),
                capFeats.get("0:1"),
                capMask.get("0:1"),
                pooled.get("0:1"),
                adapters);
      }
      if (applied != null && applied.length > 0) {
        applied[0] = new Applied(guided, clamped);
      }
      return scope.ret(g.concat(g, 0));
    }
  }
}
