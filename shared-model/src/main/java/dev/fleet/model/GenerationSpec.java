package dev.fleet.model;

import java.util.ArrayList;
import java.util.List;

/**
 * What to generate: the parameters a job, the engine CLI and the PNG metadata share. A spec that
 * exists is valid; the constructor names every field that breaks a rule.
 *
 * @param seed 0 to 2^32-1: PyTorch's CPU generator keeps only the low 32 bits of a seed, so a
 *     larger one would silently alias a smaller one
 * @param guidance FLUX's distilled guidance, or the classifier-free guidance scale of a model that
 *     runs an unconditional pass (NewBie-image)
 * @param negativePrompt the unconditional pass's caption for a model with classifier-free guidance
 *     ("" for none; FLUX has no unconditional pass and ignores it)
 * @param cfgTruncation model time in [0, 1] from which the unconditional pass is skipped (1 never
 *     skips), or null for the model's default; FLUX ignores it
 */
public record GenerationSpec(
    String prompt,
    long seed,
    int steps,
    int width,
    int height,
    double guidance,
    String model,
    List<LoraRef> loras,
    String negativePrompt,
    Double cfgTruncation) {

  public static final int MAX_PROMPT_CHARS = 2000;
  public static final int MIN_SIDE = 16;
  public static final int MAX_SIDE = 4096;
  public static final int SIDE_MULTIPLE = 16;
  public static final int MAX_STEPS = 150;
  public static final double MAX_GUIDANCE = 30;
  public static final long MAX_SEED = 0xffffffffL;

  /** A spec without a negative prompt and with the model's guidance truncation. */
  public GenerationSpec(
      String prompt,
      long seed,
      int steps,
      int width,
      int height,
      double guidance,
      String model,
      List<LoraRef> loras) {
    this(prompt, seed, steps, width, height, guidance, model, loras, "", null);
  }

  /** A spec without LoRAs. */
  public GenerationSpec(
      String prompt, long seed, int steps, int width, int height, double guidance, String model) {
    this(prompt, seed, steps, width, height, guidance, model, List.of());
  }

  public GenerationSpec {
    loras = loras == null ? List.of() : List.copyOf(loras);
    negativePrompt = negativePrompt == null ? "" : negativePrompt;
    List<FieldError> errors = new ArrayList<>();
    if (prompt == null || prompt.isBlank()) {
      errors.add(new FieldError("prompt", "must not be empty"));
    } else {
      checkText(errors, "prompt", prompt);
    }
    checkText(errors, "negativePrompt", negativePrompt);
    if (cfgTruncation != null && !(cfgTruncation >= 0 && cfgTruncation <= 1)) {
      errors.add(new FieldError("cfgTruncation", "must be between 0 and 1, got " + cfgTruncation));
    }
    if (seed < 0 || seed > MAX_SEED) {
      errors.add(new FieldError("seed", "must be between 0 and " + MAX_SEED + ", got " + seed));
    }
    if (steps < 1 || steps > MAX_STEPS) {
      errors.add(new FieldError("steps", "must be between 1 and " + MAX_STEPS + ", got " + steps));
    }
    checkSide(errors, "width", width);
    checkSide(errors, "height", height);
    if (!(guidance >= 0 && guidance <= MAX_GUIDANCE)) {
      errors.add(
          new FieldError(
              "guidance", "must be between 0 and " + MAX_GUIDANCE + ", got " + guidance));
    }
    if (model == null || model.isBlank()) {
      errors.add(new FieldError("model", "must not be empty"));
    }
    for (int i = 0; i < loras.size(); i++) {
      LoraRef l = loras.get(i);
      String nameProblem = LoraRef.nameProblem(l.name());
      if (nameProblem != null) {
        errors.add(new FieldError("loras[" + i + "].name", nameProblem));
      }
      if (!Double.isFinite(l.strength())) {
        errors.add(new FieldError("loras[" + i + "].strength", "must be a finite number"));
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidSpecException(errors);
    }
  }

  private static void checkText(List<FieldError> errors, String field, String text) {
    if (text.length() > MAX_PROMPT_CHARS) {
      errors.add(
          new FieldError(
              field,
              "has " + text.length() + " characters, at most " + MAX_PROMPT_CHARS + " allowed"));
    } else if (text.indexOf('\0') >= 0) {
      // PostgreSQL's text cannot hold NUL: refused here, not as a failure of the job store.
      errors.add(new FieldError(field, "must not contain NUL characters (U+0000)"));
    }
  }

  private static void checkSide(List<FieldError> errors, String field, int value) {
    if (value < MIN_SIDE || value > MAX_SIDE) {
      errors.add(
          new FieldError(
              field, "must be between " + MIN_SIDE + " and " + MAX_SIDE + ", got " + value));
    } else if (value % SIDE_MULTIPLE != 0) {
      errors.add(
          new FieldError(
              field,
              "must be a multiple of "
                  + SIDE_MULTIPLE
                  + ", got "
                  + value
                  + " (nearest: "
                  + nearest(value)
                  + ")"));
    }
  }

  private static int nearest(int value) {
    int down = value / SIDE_MULTIPLE * SIDE_MULTIPLE;
    return value - down < SIDE_MULTIPLE / 2 || down + SIDE_MULTIPLE > MAX_SIDE
        ? Math.max(down, MIN_SIDE)
        : down + SIDE_MULTIPLE;
  }

  /** Packed image tokens the DiT sees: one per 16x16 pixels. */
  public int imageTokens() {
    return (width / 16) * (height / 16);
  }

  /**
   * The job's LoRAs as {@code name:strength}, comma-separated, in the order applied ("" when none):
   * the {@code loras} text chunk of the image.
   */
  public String lorasText() {
    StringBuilder text = new StringBuilder();
    for (LoraRef l : loras) {
      text.append(text.isEmpty() ? "" : ", ").append(l.name()).append(':');
      text.append(l.strengthText());
    }
    return text.toString();
  }

  /**
   * The text chunk image tools read ("parameters", in the form A1111/ComfyUI users know): the
   * prompt, then one line of settings.
   */
  public String parametersText() {
    StringBuilder tags = new StringBuilder();
    for (LoraRef l : loras) {
      tags.append(' ').append(l.tag());
    }
    return prompt
        + tags
        + "\nSteps: "
        + steps
        + ", Sampler: Euler, Schedule: flux-shift, CFG scale: 1, Distilled guidance: "
        + guidance
        + ", Seed: "
        + seed
        + ", Size: "
        + width
        + "x"
        + height
        + ", Model: "
        + model;
  }
}
