package dev.fleet.gateway.jobs;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.model.FieldError;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * The body of {@code POST /v1/jobs} as the client sent it: every field may be absent (null), and
 * the model's defaults fill in later. Parsed by hand from the JSON tree so that a wrong type is
 * refused with the field's name (Jackson would coerce {@code "4"} to 4, and name nothing).
 */
@Schema(
    name = "SubmitRequest",
    description = "A text-to-image job; absent fields take the model's defaults")
public record SubmitRequest(
    @Schema(required = true, example = "a red fox sitting in the snow at dawn") String prompt,
    @Schema(description = "0 to 4294967295; -1 or absent picks one at random", example = "1234")
        Long seed,
    @Schema(example = "4") Integer steps,
    @Schema(description = "a multiple of 16", example = "128") Integer width,
    @Schema(description = "a multiple of 16", example = "96") Integer height,
    @Schema(
            description =
                "FLUX's distilled guidance, or the classifier-free guidance scale of a model with"
                    + " an unconditional pass (NewBie-image)",
            example = "3.5")
        Double guidance,
    @Schema(
            description =
                "The unconditional pass's caption; only for a model with classifier-free guidance"
                    + " (NewBie-image: GET /v1/models says which), none when absent",
            example = "low quality, worst quality, blurry")
        String negativePrompt,
    @Schema(
            description =
                "Model time in [0, 1] from which the unconditional pass is skipped (1 never skips);"
                    + " only for a model with classifier-free guidance, the model's default when"
                    + " absent",
            example = "1.0")
        Double cfgTruncation,
    @Schema(
            description = "a configured model; the default model when absent",
            example = "flux-shapes")
        String model,
    @Schema(
            description =
                "LoRA adapters to apply, by name (GET /v1/loras lists them); at most 4 by default")
        List<LoraRequest> loras,
    @Schema(
            description =
                "An https URL that is POSTed the job's terminal event (SUCCEEDED, FAILED,"
                    + " CANCELLED or TIMED_OUT) as JSON, retried with backoff until it answers"
                    + " 2xx. Signed: header Fleet-Signature t=UNIX_SECONDS,v1=HEX, the"
                    + " HMAC-SHA256 under the operator's secret of the timestamp, a dot and the"
                    + " body; reject a timestamp more than 300 s from your clock (the replay"
                    + " window) and a Fleet-Event-Id seen before. Loopback, link-local and"
                    + " private addresses are refused unless the operator allows them.",
            example = "https://hooks.example.com/fleet")
        String webhook) {

  private static final Set<String> FIELDS =
      Set.of(
          "prompt",
          "seed",
          "steps",
          "width",
          "height",
          "guidance",
          "negativePrompt",
          "cfgTruncation",
          "model",
          "loras",
          "webhook");
  private static final Set<String> LORA_FIELDS = Set.of("name", "strength");

  /** One LoRA of a request. */
  @Schema(name = "LoraRequest", description = "A LoRA of the fleet's LoRA directory")
  public record LoraRequest(
      @Schema(required = true, description = "a name from GET /v1/loras", example = "watercolor")
          String name,
      @Schema(description = "-2 to 2; 1 when absent", example = "0.7") Double strength) {}

  /**
   * @throws ProblemException 400, naming the fields, for anything but a JSON object of known fields
   *     with the right types
   */
  public static SubmitRequest parse(ObjectMapper json, String body) {
    JsonNode root;
    try {
      root = body == null || body.isBlank() ? null : json.readTree(body);
    } catch (JacksonException e) {
      var at = e.getLocation();
      throw ProblemException.malformed(
          "the body is not valid JSON"
              + (at != null
                  ? " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"
                  : ""),
          List.of());
    }
    if (root == null || !root.isObject()) {
      throw ProblemException.malformed("the body must be a JSON object", List.of());
    }
    List<FieldError> errors = new ArrayList<>();
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      String name = field.getKey();
      if (!FIELDS.contains(name)) {
        errors.add(
            new FieldError(
                name, "is not a field of a job (fields: " + String.join(", ", sorted()) + ")"));
      }
    }
    Fields f = new Fields(root, errors);
    SubmitRequest r =
        new SubmitRequest(
            f.text("prompt"),
            f.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE),
            toInt(f.integer("steps", Integer.MIN_VALUE, Integer.MAX_VALUE)),
            toInt(f.integer("width", Integer.MIN_VALUE, Integer.MAX_VALUE)),
            toInt(f.integer("height", Integer.MIN_VALUE, Integer.MAX_VALUE)),
            f.number("guidance"),
            f.text("negativePrompt"),
            f.number("cfgTruncation"),
            f.text("model"),
            loras(root.get("loras"), errors),
            f.text("webhook"));
    if (!errors.isEmpty()) {
      throw ProblemException.malformed(
          errors.stream().map(FieldError::toString).reduce((a, b) -> a + "; " + b).orElseThrow(),
          errors);
    }
    return r;
  }

  private static List<LoraRequest> loras(JsonNode n, List<FieldError> errors) {
    if (n == null || n.isNull()) {
      return List.of();
    }
    if (!n.isArray()) {
      errors.add(new FieldError("loras", "must be an array, got " + Fields.kind(n)));
      return List.of();
    }
    List<LoraRequest> out = new ArrayList<>();
    for (int i = 0; i < n.size(); i++) {
      JsonNode item = n.get(i);
      String at = "loras[" + i + "]";
      if (!item.isObject()) {
        errors.add(
            new FieldError(
                at,
                "must be an object {\"name\": ..., \"strength\": ...}, got " + Fields.kind(item)));
        continue;
      }
      for (Map.Entry<String, JsonNode> field : item.properties()) {
        if (!LORA_FIELDS.contains(field.getKey())) {
          errors.add(
              new FieldError(
                  at + "." + field.getKey(), "is not a field of a LoRA (fields: name, strength)"));
        }
      }
      Fields f = new Fields(item, errors, at + ".");
      out.add(new LoraRequest(f.text("name"), f.number("strength")));
    }
    return out;
  }

  private static List<String> sorted() {
    return FIELDS.stream().sorted().toList();
  }

  private static Integer toInt(Long v) {
    return v == null ? null : Math.toIntExact(v);
  }

  /** Typed access to the fields of the JSON object; a wrong type adds an error and reads null. */
  private record Fields(JsonNode root, List<FieldError> errors, String prefix) {
    Fields(JsonNode root, List<FieldError> errors) {
      this(root, errors, "");
    }

    String text(String name) {
      JsonNode n = root.get(name);
      if (n == null || n.isNull()) {
        return null;
      }
      if (!n.isTextual()) {
        errors.add(new FieldError(prefix + name, "must be a string, got " + kind(n)));
        return null;
      }
      return n.textValue();
    }

    Long integer(String name, long min, long max) {
      JsonNode n = root.get(name);
      if (n == null || n.isNull()) {
        return null;
      }
      boolean integral =
          n.isIntegralNumber()
              || (n.isFloatingPointNumber() && n.asDouble() == Math.rint(n.asDouble()));
      if (!n.isNumber() || !integral) {
        errors.add(new FieldError(prefix + name, "must be an integer, got " + kind(n)));
        return null;
      }
      if (!n.canConvertToLong() || n.asLong() < min || n.asLong() > max) {
        errors.add(new FieldError(prefix + name, "is out of range, got " + n.asText()));
        return null;
      }
      return n.asLong();
    }

    Double number(String name) {
      JsonNode n = root.get(name);
      if (n == null || n.isNull()) {
        return null;
      }
      if (!n.isNumber()) {
        errors.add(new FieldError(prefix + name, "must be a number, got " + kind(n)));
        return null;
      }
      return n.asDouble();
    }

    private static String kind(JsonNode n) {
      return switch (n.getNodeType()) {
        case STRING -> "a string";
        case BOOLEAN -> "a boolean";
        case ARRAY -> "an array";
        case OBJECT -> "an object";
        case NUMBER -> "the number " + n.asText();
        default -> n.getNodeType().name().toLowerCase(Locale.ROOT);
      };
    }
  }

  /**
   * A hash of the request as sent (absent fields included as absent): an idempotency key that comes
   * back with a different request is refused by comparing these.
   */
  public String fingerprint() {
    String canonical =
        String.join(
            "\u0000",
            String.valueOf(prompt),
            String.valueOf(seed),
            String.valueOf(steps),
            String.valueOf(width),
            String.valueOf(height),
            String.valueOf(guidance),
            String.valueOf(model));
    if (loras != null && !loras.isEmpty()) {
      // Only then, so that a request without LoRAs keeps the fingerprint it had before them.
      canonical += "\u0000" + loras;
    }
    if (webhook != null) {
      canonical += "\u0000webhook=" + webhook;
    }
    if (negativePrompt != null || cfgTruncation != null) {
      // Only then, so that a request without them keeps the fingerprint it had before them.
      canonical +=
          "\u0000negativePrompt=" + negativePrompt + "\u0000cfgTruncation=" + cfgTruncation;
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(sha.digest(canonical.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }
}
