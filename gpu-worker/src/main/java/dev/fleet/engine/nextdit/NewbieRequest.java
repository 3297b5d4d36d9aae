package dev.fleet.engine.nextdit;

import java.util.Objects;

/**
 * One NewBie-image generation: prompt and negative prompt, seed, size, Euler steps, and the
 * guidance settings of NewBie's {@code forward_with_cfg}.
 *
 * @param prompt the caption (XML-structured prompts pass through as text)
 * @param negativePrompt the unconditional caption ("" for none)
 * @param systemPrompt put before both captions for Gemma only (an empty negative stays empty)
 * @param steps Euler steps N (NewBie's demo "steps" S means S − 1 of these)
 * @param cfgScale guidance scale
 * @param cfgTrunc model time from which the unconditional pass is skipped
 * @param renormCfg norm clamp factor (0 for none)
 * @param timeShift time-shifting factor of the grid (6)
 */
public record NewbieRequest(
    String prompt,
    String negativePrompt,
    String systemPrompt,
    long seed,
    int width,
    int height,
    int steps,
    float cfgScale,
    float cfgTrunc,
    float renormCfg,
    float timeShift) {

  /** The system prompt NewBie was trained with. */
  public static final String SYSTEM_PROMPT =
      "You are an assistant designed to generate high-quality anime images based on xml format"
          + " prompts. <Prompt Start> ";

  public NewbieRequest {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(negativePrompt, "negativePrompt");
    Objects.requireNonNull(systemPrompt, "systemPrompt");
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException("width and height must be positive");
    }
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be at least 1, got " + steps);
    }
  }

  /** What Gemma reads: [system + prompt, system + negative (or "" when there is none)]. */
  public String[] gemmaTexts() {
    return new String[] {
      systemPrompt + prompt, negativePrompt.isEmpty() ? "" : systemPrompt + negativePrompt
    };
  }

  /** What Jina reads: [prompt, negative], without the system prompt. */
  public String[] jinaTexts() {
    return new String[] {prompt, negativePrompt};
  }
}
