package dev.fleet.engine.nextdit;

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
    float[] s = linspace(0f, 1f, steps + 1);
    float[] t = new float[s.length];
    for (int i = 0; i < s.length; i++) {
      float denom = (s[i] + shift) - shift * s[i];
      t[i] = s[i] / denom;
    }
    return t;
  }

  /** torch.linspace in float32: the first half counts up from start, the second down from end. */
  static float[] linspace(float start, float end, int n) {
    float[] out = new float[n];
    if (n == 1) {
      out[0] = start;
      return out;
    }
    float step = (end - start) / (n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++) {
      out[i] = i < half ? start + step * i : end - step * (n - 1 - i);
    }
    return out;
  }
}
