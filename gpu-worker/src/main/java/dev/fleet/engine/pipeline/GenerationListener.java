package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;

/**
 * What a caller of {@link PlannedPipeline#generate} hears and decides while a job runs: progress
 * per step, whether to stop at the next step boundary, and (for traces) intermediate tensors.
 */
public interface GenerationListener {
  /** The phase that encodes the prompt (T5, then CLIP). */
  String TEXT = "text";

  /** The phase of the denoising steps. */
  String DENOISE = "denoise";

  /** The phase that decodes the latents to pixels. */
  String DECODE = "decode";

  /** When a phase ({@link #TEXT}, {@link #DENOISE}, {@link #DECODE}) begins, in that order. */
  default void onPhaseStart(String phase) {}

  /** After denoising step {@code step} (1-based) of {@code steps}. */
  default void onStep(int step, int steps) {}

  /** Polled before each step; true stops the job with {@link GenerationCancelledException}. */
  default boolean cancelled() {
    return false;
  }

  /** True when {@link #onTensor} wants the intermediates (copying them costs time). */
  default boolean wantsTensors() {
    return false;
  }

  /**
   * An intermediate tensor by its trace name ({@code pipe.noise}, {@code pipe.latents.step0} ...).
   */
  default void onTensor(String name, NDArray value) {}

  GenerationListener NONE = new GenerationListener() {};
}
