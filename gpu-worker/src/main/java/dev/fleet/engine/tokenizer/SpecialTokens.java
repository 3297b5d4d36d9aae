package dev.fleet.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The special-token names a Hugging Face tokenizer directory declares in {@code
 * special_tokens_map.json} (first) or {@code tokenizer_config.json}; each value is either a string
 * or an object with a {@code content} field.
 */
record SpecialTokens(Map<String, String> byRole) {

  static SpecialTokens read(Path dir) {
    Map<String, String> roles = new HashMap<>();
    for (String file : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
      Path p = dir.resolve(file);
      if (!Files.isRegularFile(p)) {
        continue;
      }
      JsonNode root = ClipBpeTokenizerJson.readJson(p);
      for (String role : new String[] {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        JsonNode v = root.get(role);
        if (v != null && v.isTextual()) {
          roles.put(role, v.asText());
        } else if (v != null && v.isObject() && v.path("content").isTextual()) {
          roles.put(role, v.get("content").asText());
        }
      }
    }
    return new SpecialTokens(Map.copyOf(roles));
  }

  String bos(String fallback) {
    return byRole.getOrDefault("bos_token", fallback);
  }

  String eos(String fallback) {
    return byRole.getOrDefault("eos_token", fallback);
  }

  String unk(String fallback) {
    return byRole.getOrDefault("unk_token", fallback);
  }

  String pad(String fallback) {
    return byRole.getOrDefault("pad_token", fallback);
  }
}
