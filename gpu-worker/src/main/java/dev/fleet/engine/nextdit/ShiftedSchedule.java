package dev.fleet.engine.nextdit;

import dev.fleet.engine.sampling.Schedule;

/**
 * NewBie's time grid ({@code transport}'s ODE sampler with {@code time_shifting_factor}): {@code
 * t_k = s_k / (s_k + shift − shift · s_k)} for {@code s = linspace(0, 1, N + 1)}, in float32 as
 * torch computes it. t is model time (0 = noise, 1 = data); σ = 1 − t runs 1, …, then 0, i.e. σ' =
 * shift·σ / (1 + (shift − 1)·σ) over the plain grid.
 */
public final class ShiftedSchedule {
  private ShiftedSchedule() {}

  /** NewBie's static shift. */
  public static final float DEFAULT_SHIFT = 6f;

  /**
   * @param steps Euler steps N (at least 1); the grid has N + 1 points
   * @param shift time-shifting factor (1 for none)
   * @return t_0 = 0, …, t_N = 1
   */
  public static float[] grid(int steps, float shift) {
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be at least 1, got " + steps);
    }
    if (!(shift > 0)) {
      throw new IllegalArgumentException("shift must be positive, got " + shift);
    }
    float[] s = Schedule.linspace(0f, 1f, steps + 1);
    float[] t = new float[s.length];
    for (int i = 0; i < s.length; i++) {
      float denom = (s[i] + shift) - shift * s[i];
      t[i] = s[i] / denom;
    }
    return t;
  }
}
