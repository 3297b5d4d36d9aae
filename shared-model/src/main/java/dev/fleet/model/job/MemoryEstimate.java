package dev.fleet.model.job;

import dev.fleet.model.GenerationSpec;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A first, deliberately conservative estimate of a job's peak GPU memory, and the memory class it
 * goes to. Pure arithmetic over the spec and a few sizes of the model family; the memory planner
 * (its own issue) replaces the formula, not the shape: {@link #route} stays the one question the
 * gateway asks.
 *
 * <p>Peak = what stays resident on the device (CUDA context, allocator slack, the streamed window
 * of DiT blocks) + the DiT's activations for one step + the autoencoder's decode activations, all
 * in fp16. The DiT term has a quadratic part because the engine materialises the attention scores
 * (DJL has no fused attention): heads × L² for the scores and again for the softmax, with L = image
 * tokens + text tokens. Summing the phases instead of taking their maximum is the conservative
 * part: a job routed here fits, some jobs refused here would fit a real plan.
 */
public final class MemoryEstimate {
  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;
  private static final int FP16_BYTES = 2;
  // Per-token hidden-size tensors alive at once in a block: q, k, v, attention out, the 4x MLP,
  // the residual stream and the modulated norms.
  private static final int LIVE_HIDDEN_TENSORS = 16;
  // The attention scores and their softmax.
  private static final int LIVE_SCORE_TENSORS = 2;
  // Decoder input, output and a group-norm temporary at full resolution.
  private static final int LIVE_DECODER_TENSORS = 3;

  /**
   * The sizes of a model family that the estimate needs.
   *
   * @param residentBytes device memory held whatever the image size: context, slack, the weights
   *     kept on the device (for FLUX.1 under fp8 storage + offload: the streamed block window)
   * @param decoderChannels channels of the autoencoder's decoder at full resolution
   */
  public record Family(
      String name,
      long residentBytes,
      int hiddenSize,
      int heads,
      int textTokens,
      int decoderChannels) {

    /** FLUX.1-dev, FLUX.1-schnell and their fine-tunes (majicflus): 3072 wide, 24 heads, T5 512. */
    public static final Family FLUX_1 = new Family("flux-1", 3 * GIB, 3072, 24, 512, 128);

    /** The bundled random-weight fixture model: 64 wide, 2 heads, T5 32. */
    public static final Family FLUX_TINY = new Family("flux-tiny", 512 * MIB, 64, 2, 32, 32);

    public Family {
      Objects.requireNonNull(name, "name");
      if (residentBytes < 0 || hiddenSize < 1 || heads < 1 || textTokens < 0) {
        throw new IllegalArgumentException("invalid model family sizes for " + name);
      }
    }

    /** FLUX_1 or FLUX_TINY by name, or empty. */
    public static Optional<Family> byName(String name) {
      return Stream.of(FLUX_1, FLUX_TINY).filter(f -> f.name.equals(name)).findFirst();
    }
  }

  /** Where a job goes: the smallest class that holds it, or nowhere. */
  public sealed interface Route permits Fits, TooLarge {
    long peakBytes();
  }

  public record Fits(MemoryClass memoryClass, long peakBytes) implements Route {}

  /** Fits no class: {@code peakBytes} needed, {@code largest} has the most there is. */
  public record TooLarge(long peakBytes, MemoryClass largest) implements Route {
    /** A sentence for the user: needed against available, and what to change. */
    public String explain(GenerationSpec spec) {
      return String.format(
          Locale.ROOT,
          "%dx%d needs an estimated %.1f GiB of GPU memory, more than the largest class (%s,"
              + " %.1f GiB): make the image smaller",
          spec.width(),
          spec.height(),
          peakBytes / (double) GIB,
          largest.className(),
          largest.budgetBytes() / (double) GIB);
    }
  }

  private MemoryEstimate() {}

  /** Predicted peak device memory, in bytes, of one generation of {@code spec} on {@code f}. */
  public static long peakBytes(GenerationSpec spec, Family f) {
    long tokens = (long) spec.imageTokens() + f.textTokens();
    long hidden = tokens * f.hiddenSize() * FP16_BYTES * LIVE_HIDDEN_TENSORS;
    long scores = f.heads() * tokens * tokens * FP16_BYTES * LIVE_SCORE_TENSORS;
    long pixels = (long) spec.width() * spec.height();
    long decode = pixels * f.decoderChannels() * FP16_BYTES * LIVE_DECODER_TENSORS;
    return f.residentBytes() + hidden + scores + decode;
  }

  /** The smallest memory class whose budget holds the predicted peak, or a refusal. */
  public static Route route(GenerationSpec spec, Family family) {
    long peak = peakBytes(spec, family);
    for (MemoryClass c : MemoryClass.bySize()) {
      if (peak <= c.budgetBytes()) {
        return new Fits(c, peak);
      }
    }
    return new TooLarge(peak, MemoryClass.largest());
  }
}
