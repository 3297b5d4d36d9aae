package dev.fleet.engine.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

/**
 * PEFT's adapter configuration as diffusers writes it into a safetensors header ({@code
 * lora_adapter_metadata}: JSON with {@code r}, {@code lora_alpha}, optionally {@code rank_pattern}
 * and {@code alpha_pattern}, the keys bare or under {@code transformer.}): the scale of modules
 * without an {@code .alpha} tensor. Failing that, NewbieLoraTrainer's flat {@code lora_rank} and
 * {@code lora_alpha} header entries.
 */
final class LoraMetadata {
  static final String KEY = "lora_adapter_metadata";

  /** NewbieLoraTrainer's flat header entries: the rank and alpha of every module. */
  static final String FLAT_RANK = "lora_rank";

  static final String FLAT_ALPHA = "lora_alpha";

  private final JsonNode config;

  private LoraMetadata(JsonNode config) {
    this.config = config;
  }

  /** The configuration in {@code header}, or null when there is none. */
  static LoraMetadata of(Map<String, String> header, String file) {
    String json = header.get(KEY);
    if (json == null) {
      return flat(header, file);
    }
    try {
      JsonNode node = new ObjectMapper().readTree(json);
      if (node == null || !node.isObject()) {
        throw new UnsupportedLoraException(
            file + ": header entry " + KEY + " is not a JSON object");
      }
      LoraMetadata m = new LoraMetadata(node);
      if (m.field("use_dora") != null && m.field("use_dora").asBoolean(false)) {
        throw new UnsupportedLoraException(
            file + ": a DoRA adapter (use_dora in " + KEY + "); only plain LoRA is supported");
      }
      return m;
    } catch (IOException e) {
      throw new UnsupportedLoraException(file + ": header entry " + KEY + " is not JSON", e);
    }
  }

  /**
   * NewbieLoraTrainer's header: {@code lora_rank} and {@code lora_alpha} as plain string entries
   * beside PEFT's state dict; null when the header has not both.
   */
  private static LoraMetadata flat(Map<String, String> header, String file) {
    String rank = header.get(FLAT_RANK);
    String alpha = header.get(FLAT_ALPHA);
    if (rank == null || alpha == null) {
      return null;
    }
    try {
      ObjectNode config = new ObjectMapper().createObjectNode();
      config.put("r", Double.parseDouble(rank.strip()));
      config.put("lora_alpha", Double.parseDouble(alpha.strip()));
      return new LoraMetadata(config);
    } catch (NumberFormatException e) {
      throw new UnsupportedLoraException(
          file
              + ": header entries "
              + FLAT_RANK
              + "="
              + rank
              + " and "
              + FLAT_ALPHA
              + "="
              + alpha
              + " are not numbers",
          e);
    }
  }

  private JsonNode field(String name) {
    JsonNode n = config.get(name);
    return n != null ? n : config.get("transformer." + name);
  }

  /**
   * alpha / r for {@code module} (the file's module name), or NaN when the configuration does not
   * say.
   */
  double scale(String module) {
    JsonNode r = field("r");
    JsonNode alpha = field("lora_alpha");
    if (r == null || alpha == null || !r.isNumber() || !alpha.isNumber()) {
      return Double.NaN;
    }
    double rank = pattern(field("rank_pattern"), module, r.asDouble());
    double a = pattern(field("alpha_pattern"), module, alpha.asDouble());
    return a / rank;
  }

  /** PEFT's rule: a pattern key applies to the module it names or ends it after a dot. */
  private static double pattern(JsonNode patterns, String module, double fallback) {
    if (patterns == null || !patterns.isObject()) {
      return fallback;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = patterns.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (module.equals(e.getKey()) || module.endsWith("." + e.getKey())) {
        return e.getValue().asDouble();
      }
    }
    return fallback;
  }
}
