package dev.fleet.model.memory;

/**
 * What bounds a step's speed on one machine: the host-to-device bandwidth that streamed weights
 * cross, and the fp16 throughput the step's arithmetic runs at.
 *
 * @param bandwidthBytesPerSecond pinned host-to-device copy rate
 * @param effectiveTflops fp16 tera-operations per second the engine sustains over a whole step
 *     (well below the card's peak: attention, norms and launches included)
 */
public record Hardware(double bandwidthBytesPerSecond, double effectiveTflops) {

  /**
   * A consumer card on PCIe 4.0 x16: ~25 GB/s pinned (ANCHORS.md) and 40 effective fp16 TFLOP/s (an
   * RTX 4060 Ti to 4070 class card's dense fp16 tensor rate at a realistic efficiency).
   */
  public static final Hardware PCIE4_CARD = new Hardware(25e9, 40);

  /**
   * The lent H100 (ANCHORS.md): 50.6 GB/s pinned host-to-device; 329 TFLOP/s is what the reference
   * step sustained there (74.4 TFLOP in 0.226 s, PyTorch eager with SDPA).
   */
  public static final Hardware LENT_H100 = new Hardware(50.6e9, 329);

  /** What plans are ranked against when nothing says otherwise. */
  public static final Hardware DEFAULT = PCIE4_CARD;

  public Hardware {
    if (!(bandwidthBytesPerSecond > 0) || Double.isInfinite(bandwidthBytesPerSecond)) {
      throw new IllegalArgumentException(
          "bandwidth must be positive and finite, got " + bandwidthBytesPerSecond);
    }
    if (!(effectiveTflops > 0) || Double.isInfinite(effectiveTflops)) {
      throw new IllegalArgumentException(
          "effective TFLOP/s must be positive and finite, got " + effectiveTflops);
    }
  }

  public Hardware withBandwidth(double bytesPerSecond) {
    return new Hardware(bytesPerSecond, effectiveTflops);
  }

  public Hardware withTflops(double tflops) {
    return new Hardware(bandwidthBytesPerSecond, tflops);
  }

  /** Seconds to copy {@code bytes} from pinned host memory to the device. */
  public double transferSeconds(long bytes) {
    return bytes / bandwidthBytesPerSecond;
  }

  /** Seconds to compute {@code flops} floating-point operations. */
  public double computeSeconds(double flops) {
    return flops / (effectiveTflops * 1e12);
  }
}
