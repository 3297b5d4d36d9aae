package dev.fleet.engine.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * FLUX's 2x2 patch packing of latents into tokens and the position ids that go with them (BFL
 * sampling.py {@code prepare} and {@code unpack}).
 */
public final class LatentPacking {
  private LatentPacking() {}

  /** (B, C, H, W) -> (B, H/2 * W/2, C*4), channel-major within each 2x2 patch. */
  public static NDArray pack(NDArray latent) {
    long b = latent.getShape().get(0);
    long c = latent.getShape().get(1);
    long h = latent.getShape().get(2) / 2;
    long w = latent.getShape().get(3) / 2;
    return latent.reshape(b, c, h, 2, w, 2).transpose(0, 2, 4, 1, 3, 5).reshape(b, h * w, c * 4);
  }

  /** (B, h*w, C*4) -> (B, C, 2h, 2w) for a latent grid of h x w patches. */
  public static NDArray unpack(NDArray tokens, long h, long w) {
    long b = tokens.getShape().get(0);
    long c = tokens.getShape().get(2) / 4;
    return tokens.reshape(b, h, w, c, 2, 2).transpose(0, 3, 1, 4, 2, 5).reshape(b, c, h * 2, w * 2);
  }

  /** Image token ids (B, h*w, 3): axis 0 unused (zero), axis 1 the patch row, axis 2 the column. */
  public static NDArray imageIds(NDManager manager, long batch, long h, long w, DataType dtype) {
    float[] ids = new float[(int) (h * w * 3)];
    for (int r = 0; r < h; r++) {
      for (int c = 0; c < w; c++) {
        int t = (int) (r * w + c) * 3;
        ids[t + 1] = r;
        ids[t + 2] = c;
      }
    }
    NDArray one = manager.create(ids).reshape(1, h * w, 3);
    return one.repeat(0, batch).toType(dtype, false);
  }

  /** Text token ids (B, T, 3): all zero, as in BFL's reference. */
  public static NDArray textIds(NDManager manager, long batch, long tokens, DataType dtype) {
    return manager.zeros(new ai.djl.ndarray.types.Shape(batch, tokens, 3), dtype);
  }
}
