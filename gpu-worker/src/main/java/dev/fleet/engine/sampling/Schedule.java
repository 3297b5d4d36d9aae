package dev.fleet.engine.sampling;

/**
 * The FLUX timestep schedule ({@code get_schedule} of BFL's sampling.py): {@code steps + 1} points
 * from 1 to 0, shifted towards 1 for longer image sequences. Computed in float32 with the
 * operations PyTorch performs, so that the values are bit-identical to the reference.
 */
public final class Schedule {
  private Schedule() {}

  public static final double BASE_SHIFT = 0.5;
  public static final double MAX_SHIFT = 1.15;

  /**
   * @param steps number of denoising steps (at least 1)
   * @param imageSeqLen number of packed image tokens
   * @param shift false for schnell-style unshifted schedules
   */
  public static float[] timesteps(int steps, int imageSeqLen, boolean shift) {
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be at least 1, got " + steps);
    }
    float[] t = linspace(1f, 0f, steps + 1);
    if (!shift) {
      return t;
    }
    double m = (MAX_SHIFT - BASE_SHIFT) / (4096 - 256);
    double b = BASE_SHIFT - m * 256;
    double mu = m * imageSeqLen + b;
    float e = (float) Math.exp(mu);
    for (int i = 0; i < t.length; i++) {
      // exp(mu) / (exp(mu) + (1 / t - 1) ** 1.0), tensor ops in float32
      float inv = 1f / t[i];
      float denom = e + (inv - 1f);
      t[i] = e * (1f / denom);
    }
    return t;
  }

  /** torch.linspace in float32: the first half counts up from start, the second down from end. */
  public static float[] linspace(float start, float end, int n) {
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
