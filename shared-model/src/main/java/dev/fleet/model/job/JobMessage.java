package dev.fleet.model.job;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.LoraRef;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;

/**
 * What travels on Kafka to a worker: one attempt at one job. The topic is the memory class, the
 * record key the job id. The value is {@link #toJson()}: a flat JSON object whose names are the
 * record's components, so that Jackson in the applications reads it back as this record.
 *
 * @param attempt 1 for the first delivery; {@code JobStore.requeue} publishes the next one. A
 *     worker passes it to {@code JobStore.markRunning}, which refuses a stale attempt.
 * @param negativePrompt the unconditional pass's caption ({@link GenerationSpec#negativePrompt});
 *     absent (as in messages from before it) means none
 * @param cfgTruncation {@link GenerationSpec#cfgTruncation}; absent means the model's default
 */
public record JobMessage(
    UUID jobId,
    String tenant,
    String prompt,
    long seed,
    int steps,
    int width,
    int height,
    double guidance,
    String model,
    String memoryClass,
    int attempt,
    List<LoraRef> loras,
    String negativePrompt,
    Double cfgTruncation) {

  public JobMessage {
    Objects.requireNonNull(jobId, "jobId");
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(memoryClass, "memoryClass");
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be at least 1, got " + attempt);
    }
    // Messages written before LoRAs existed have no "loras": none.
    loras = loras == null ? List.of() : List.copyOf(loras);
    negativePrompt = negativePrompt == null ? "" : negativePrompt;
  }

  /** A message without the classifier-free guidance fields. */
  public JobMessage(
      UUID jobId,
      String tenant,
      String prompt,
      long seed,
      int steps,
      int width,
      int height,
      double guidance,
      String model,
      String memoryClass,
      int attempt,
      List<LoraRef> loras) {
    this(
        jobId,
        tenant,
        prompt,
        seed,
        steps,
        width,
        height,
        guidance,
        model,
        memoryClass,
        attempt,
        loras,
        "",
        null);
  }

  /** A message without LoRAs. */
  public JobMessage(
      UUID jobId,
      String tenant,
      String prompt,
      long seed,
      int steps,
      int width,
      int height,
      double guidance,
      String model,
      String memoryClass,
      int attempt) {
    this(
        jobId,
        tenant,
        prompt,
        seed,
        steps,
        width,
        height,
        guidance,
        model,
        memoryClass,
        attempt,
        List.of());
  }

  public static JobMessage of(
      UUID jobId, String tenant, GenerationSpec spec, MemoryClass memoryClass, int attempt) {
    return new JobMessage(
        jobId,
        tenant,
        spec.prompt(),
        spec.seed(),
        spec.steps(),
        spec.width(),
        spec.height(),
        spec.guidance(),
        spec.model(),
        memoryClass.className(),
        attempt,
        spec.loras(),
        spec.negativePrompt(),
        spec.cfgTruncation());
  }

  /** The spec to generate; validated again, so a tampered message cannot reach the engine. */
  public GenerationSpec spec() {
    return new GenerationSpec(
        prompt, seed, steps, width, height, guidance, model, loras, negativePrompt, cfgTruncation);
  }

  /** The Kafka record value. */
  public String toJson() {
    StringBuilder b = new StringBuilder(128 + prompt.length());
    b.append("{\"jobId\":");
    string(b, jobId.toString());
    b.append(",\"tenant\":");
    string(b, tenant);
    b.append(",\"prompt\":");
    string(b, prompt);
    b.append(",\"seed\":").append(seed);
    b.append(",\"steps\":").append(steps);
    b.append(",\"width\":").append(width);
    b.append(",\"height\":").append(height);
    b.append(",\"guidance\":").append(guidance);
    b.append(",\"model\":");
    string(b, model);
    b.append(",\"memoryClass\":");
    string(b, memoryClass);
    b.append(",\"attempt\":").append(attempt);
    if (!loras.isEmpty()) {
      b.append(",\"loras\":").append(LoraRef.toJson(loras));
    }
    if (!negativePrompt.isEmpty()) {
      b.append(",\"negativePrompt\":");
      string(b, negativePrompt);
    }
    if (cfgTruncation != null) {
      b.append(",\"cfgTruncation\":").append(cfgTruncation);
    }
    return b.append('}').toString();
  }

  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
