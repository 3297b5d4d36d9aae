package dev.fleet.engine.sampling;

/**
 * Gaussian noise that reproduces {@code torch.randn(shape, generator=torch.Generator("cpu")
 * .manual_seed(seed))} for float32: PyTorch's CPU generator is a 32-bit Mersenne Twister (mt19937)
 * whose 24 low bits per draw make a uniform float, turned into normals by Box-Muller in blocks of
 * 16 (the first 8 uniforms give the radii, the next 8 the angles). Doing it here keeps the seed to
 * image mapping independent of DJL's process-wide generator, so concurrent jobs and other libtorch
 * users cannot disturb it.
 */
public final class TorchNoise {
  private static final int N = 624;
  private static final int M = 397;

  private final int[] state = new int[N];
  private int index;

  /**
   * A job's initial latents: {@code given} (a caller's own noise, checked to fill {@code shape}),
   * or, when it is null, {@code torch.randn(shape)} under {@code seed}.
   *
   * @throws IllegalArgumentException the given noise has another number of values
   */
  public static float[] initial(float[] given, long seed, ai.djl.ndarray.types.Shape shape) {
    float[] noise = given != null ? given : new TorchNoise(seed).randn((int) shape.size());
    if (noise.length != shape.size()) {
      throw new IllegalArgumentException(
          "noise has " + noise.length + " values, " + shape + " needs " + shape.size());
    }
    return noise;
  }

  /** A generator in the state {@code manual_seed(seed)} leaves PyTorch's CPU generator in. */
  public TorchNoise(long seed) {
    state[0] = (int) seed; // PyTorch keeps the low 32 bits of the seed
    for (int j = 1; j < N; j++) {
      int prev = state[j - 1];
      state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
    }
    index = N;
  }

  /** The next 32-bit output of mt19937. */
  int next32() {
    if (index >= N) {
      twist();
    }
    int y = state[index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y;
  }

  private void twist() {
    for (int i = 0; i < N; i++) {
      int y = (state[i] & 0x80000000) | (state[(i + 1) % N] & 0x7fffffff);
      int next = state[(i + M) % N] ^ (y >>> 1);
      if ((y & 1) != 0) {
        next ^= 0x9908b0df;
      }
      state[i] = next;
    }
    index = 0;
  }

  /** A uniform float in [0, 1) from the low 24 bits of one draw, as PyTorch's uniform_real. */
  private float uniform() {
    return (next32() & 0xffffff) * (1.0f / (1 << 24));
  }

  /** {@code count} standard normal floats in PyTorch's order (count of at least 16). */
  public float[] randn(int count) {
    if (count < 16) {
      // PyTorch draws tensors of fewer than 16 elements through a different (scalar) path.
      throw new IllegalArgumentException("noise tensors need at least 16 elements, got " + count);
    }
    float[] data = new float[count];
    for (int i = 0; i < count; i++) {
      data[i] = uniform();
    }
    for (int i = 0; i + 16 <= count; i += 16) {
      boxMuller16(data, i);
    }
    if (count % 16 != 0) {
      // PyTorch redraws the last 16 values when the size is not a multiple of 16.
      int start = count - 16;
      for (int i = 0; i < 16; i++) {
        data[start + i] = uniform();
      }
      boxMuller16(data, start);
    }
    return data;
  }

  private static void boxMuller16(float[] data, int off) {
    for (int j = 0; j < 8; j++) {
      float u1 = 1 - data[off + j];
      float u2 = data[off + j + 8];
      float radius = (float) Math.sqrt(-2 * (float) Math.log(u1));
      float theta = (float) (2.0 * Math.PI * u2);
      data[off + j] = (float) (radius * Math.cos(theta));
      data[off + j + 8] = (float) (radius * Math.sin(theta));
    }
  }
}
