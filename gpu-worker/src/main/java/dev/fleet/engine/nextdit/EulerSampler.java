package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.nn.Adapters;

/**
 * NewBie's sampler ({@code transport}'s fixed-grid Euler ODE solver on the velocity, as {@code
 * demo.py} drives it): latents start as [noise, noise] (batch [cond, uncond]) and step k does
 * {@code x ← x + (t_{k+1} − t_k) · v(x, t_k)} with v from {@link GuidedVelocity} over the {@link
 * ShiftedSchedule} grid. Note NewBie's demo passes its "sampling steps" as the grid size: its S
 * steps are S − 1 Euler steps here.
 *
 * @param steps Euler steps N
 * @param shift time-shifting factor of the grid
 * @param guidance classifier-free guidance with truncation and norm clamp
 */
public record EulerSampler(int steps, float shift, GuidedVelocity guidance) {

  /** Called after every step. */
  @FunctionalInterface
  public interface StepListener {
    /**
     * @param step 1 … N
     * @param latents (1, C, H, W) the conditional half after the step; valid during the call only
     * @param velocity (1, C, H, W) what guidance returned for the step; valid during the call
     * @param applied whether guidance ran and whether the clamp rescaled it
     */
    void onStep(int step, NDArray latents, NDArray velocity, GuidedVelocity.Applied applied);
  }

  public EulerSampler {
    ShiftedSchedule.grid(steps, shift); // validates
  }

  /** The model-time grid t_0 … t_N. */
  public float[] grid() {
    return ShiftedSchedule.grid(steps, shift);
  }

  /**
   * @param noise (1, C, H, W) initial latents
   * @param capFeats (2, Lc, F) [prompt, negative] caption features
   * @param capMask (2, Lc)
   * @param pooled (2, clip_text_dim)
   * @param listener called after each step, or null
   * @return (1, C, H, W) the final latents on noise's manager
   */
  public NDArray sample(
      NextDitTransformer model,
      NDArray noise,
      NDArray capFeats,
      NDArray capMask,
      NDArray pooled,
      StepListener listener) {
    return sample(model, noise, capFeats, capMask, pooled, Adapters.NONE, listener);
  }

  /**
   * As {@link #sample(NextDitTransformer, NDArray, NDArray, NDArray, NDArray, StepListener)}, the
   * model with LoRA side paths in every pass.
   *
   * @param adapters the side paths by NewBie's layer names, or {@link Adapters#NONE}
   */
  public NDArray sample(
      NextDitTransformer model,
      NDArray noise,
      NDArray capFeats,
      NDArray capMask,
      NDArray pooled,
      Adapters adapters,
      StepListener listener) {
    float[] t = grid();
    try (NDManager scope = NDManager.subManagerOf(noise)) {
      scope.tempAttachAll(noise, capFeats, capMask, pooled);
      NDArray x = noise.concat(noise, 0);
      for (int k = 0; k < steps; k++) {
        try (NDManager stepScope = scope.newSubManager()) {
          NDArray time = stepScope.full(new ai.djl.ndarray.types.Shape(2), t[k]);
          GuidedVelocity.Applied[] applied = new GuidedVelocity.Applied[1];
          NDArray v =
              guidance.forward(model, x, time, capFeats, capMask, pooled, adapters, applied);
          v.attach(stepScope);
          float dt = t[k + 1] - t[k];
          NDArray next = x.add(v.mul(dt));
          if (listener != null) {
            listener.onStep(k + 1, next.get("0:1"), v.get("0:1"), applied[0]);
          }
          next.attach(scope);
          x.close();
          x = next;
        }
      }
      return scope.ret(x.get("0:1"));
    }
  }
}
