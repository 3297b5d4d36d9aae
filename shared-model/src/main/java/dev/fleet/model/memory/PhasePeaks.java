package dev.fleet.model.memory;

/**
 * The predicted peak device memory of each phase of a job, in bytes, all that is resident included.
 * The phases run one after the other, so the job's peak is the largest of them.
 */
public record PhasePeaks(long t5, long clip, long denoise, long decode) {

  public PhasePeaks {
    if (t5 < 0 || clip < 0 || denoise < 0 || decode < 0) {
      throw new IllegalArgumentException(
          "phase peaks must not be negative: " + t5 + ", " + clip + ", " + denoise + ", " + decode);
    }
  }

  public long of(Phase phase) {
    return switch (phase) {
      case T5 -> t5;
      case CLIP -> clip;
      case DENOISE -> denoise;
      case DECODE -> decode;
    };
  }

  /** The job's peak: the largest phase. */
  public long max() {
    return Math.max(Math.max(t5, clip), Math.max(denoise, decode));
  }

  /** The phase that sets the peak (the earliest of equal ones). */
  public Phase dominant() {
    Phase best = Phase.T5;
    for (Phase p : Phase.values()) {
      if (of(p) > of(best)) {
        best = p;
      }
    }
    return best;
  }
}
