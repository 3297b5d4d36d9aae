package dev.fleet.model.memory;

/**
 * What a job's LoRA adapters add to device memory: their side paths' factors in the compute dtype,
 * held through the denoising loop, and the side path's extra activation, a (tokens, rank) matrix
 * beside each adapted layer's output.
 *
 * @param deviceBytes the factors' bytes on the device
 * @param rank the largest total rank over the adapted layers (the adapters of a layer add up)
 */
public record AdapterLoad(long deviceBytes, long rank) {
  public static final AdapterLoad NONE = new AdapterLoad(0, 0);

  public AdapterLoad {
    if (deviceBytes < 0 || rank < 0) {
      throw new IllegalArgumentException(
          "adapter bytes and rank must be >= 0, got " + deviceBytes + ", " + rank);
    }
  }
}
