package dev.fleet.model.memory;

import java.util.Objects;

/**
 * How to run one job within a memory budget, with what the memory model predicts for it. The
 * executor reads the residencies, tile and chunk; the numbers say what it should see.
 *
 * @param dit which transformer blocks stay on the device and how the DiT is stored
 * @param t5 RESIDENT, STAGED (loaded whole for its phase) or STREAMED (layer by layer)
 * @param t5Storage how the first text encoder's layer matrices are stored on the device: fp16, or
 *     fp8 (NewBie's Gemma 3 narrowed to e4m3fn when loaded, widened layer by layer)
 * @param clip RESIDENT or STAGED
 * @param autoencoder RESIDENT or STAGED (loaded for the decode)
 * @param decodeTile pixels per side of a decode tile (overlap included), 0 to decode whole
 * @param attentionChunk query tokens per attention call in the DiT, 0 for all at once
 * @param phases the predicted device-memory peak of each phase (reserve not included)
 * @param streamedBytesPerStep bytes copied host-to-device every step: the streamed DiT blocks
 * @param loadedBytesPerJob bytes copied host-to-device once per job for staged or streamed
 *     components (a prompt-cache hit skips the text encoders' share)
 * @param computeSecondsPerStep the step's arithmetic at the hardware's effective rate
 * @param transferSecondsPerStep {@code streamedBytesPerStep} at the hardware's bandwidth
 */
public record Plan(
    DitResidency dit,
    Residency t5,
    StorageType t5Storage,
    Residency clip,
    Residency autoencoder,
    int decodeTile,
    int attentionChunk,
    PhasePeaks phases,
    long streamedBytesPerStep,
    long loadedBytesPerJob,
    double computeSecondsPerStep,
    double transferSecondsPerStep) {

  public Plan {
    Objects.requireNonNull(dit, "dit");
    Objects.requireNonNull(t5, "t5");
    Objects.requireNonNull(t5Storage, "t5Storage");
    Objects.requireNonNull(clip, "clip");
    Objects.requireNonNull(autoencoder, "autoencoder");
    Objects.requireNonNull(phases, "phases");
    if (clip == Residency.STREAMED || autoencoder == Residency.STREAMED) {
      throw new IllegalArgumentException("CLIP and the autoencoder are resident or staged");
    }
    if (decodeTile < 0 || attentionChunk < 0) {
      throw new IllegalArgumentException(
          "decode tile and attention chunk must be 0 (off) or positive, got "
              + decodeTile
              + " and "
              + attentionChunk);
    }
    if (streamedBytesPerStep < 0 || loadedBytesPerJob < 0) {
      throw new IllegalArgumentException("transferred bytes must not be negative");
    }
  }

  /** The rung this plan stands on. */
  public Strategy strategy() {
    return Strategy.of(dit, t5);
  }

  /**
   * The strategy and its modifiers, e.g. {@code dit-partial+text-fp8+ae-staged+chunked-attention};
   * the residencies, storages, tile and chunk say the rest.
   */
  public String name() {
    StringBuilder s = new StringBuilder(strategy().label());
    if (t5Storage == StorageType.FP8) {
      s.append("+text-fp8");
    }
    if (autoencoder == Residency.STAGED) {
      s.append("+ae-staged");
    }
    if (decodeTiled()) {
      s.append("+tiled-decode");
    }
    if (attentionChunked()) {
      s.append("+chunked-attention");
    }
    return s.toString();
  }

  /** The job's predicted peak device memory: its largest phase, without the reserve. */
  public long predictedPeakBytes() {
    return phases.max();
  }

  public Phase peakPhase() {
    return phases.dominant();
  }

  /**
   * The fastest a step can go: the larger of its arithmetic and its weight traffic, assuming the
   * two overlap (the next block arrives while this one computes).
   */
  public double boundSecondsPerStep() {
    return Math.max(computeSecondsPerStep, transferSecondsPerStep);
  }

  /** True when the weight traffic, not the arithmetic, sets the bound. */
  public boolean transferBound() {
    return transferSecondsPerStep > computeSecondsPerStep;
  }

  /**
   * How many of the text encoders and the autoencoder are loaded per job (not resident): what the
   * planner ranks loading by, so that storing a component smaller does not by itself outrank
   * storing it in 16 bits.
   */
  public int componentsLoadedPerJob() {
    int n = t5 == Residency.RESIDENT ? 0 : 1;
    n += clip == Residency.RESIDENT ? 0 : 1;
    return n + (autoencoder == Residency.RESIDENT ? 0 : 1);
  }

  public boolean decodeTiled() {
    return decodeTile > 0;
  }

  public boolean attentionChunked() {
    return attentionChunk > 0;
  }
}
