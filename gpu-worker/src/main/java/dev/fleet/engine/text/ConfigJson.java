package dev.fleet.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Typed reads from a Hugging Face {@code config.json} whose errors name the file and the field. */
record ConfigJson(JsonNode node, Path file) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Parses a config file; a missing one is reported with its path and what it configures. */
  static JsonNode read(Path file, String what) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no " + what + " config: " + file + " does not exist");
    }
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + what + " config " + file, e);
    }
  }

  int requireInt(String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.canConvertToInt()) {
      throw new IllegalArgumentException(file + " lacks the integer field " + field);
    }
    return v.intValue();
  }

  int intOr(String field, int fallback) {
    JsonNode v = node.get(field);
    return v != null && v.canConvertToInt() ? v.intValue() : fallback;
  }

  double doubleOr(String field, double fallback) {
    JsonNode v = node.get(field);
    return v != null && v.isNumber() ? v.doubleValue() : fallback;
  }

  String textOr(String field, String fallback) {
    JsonNode v = node.get(field);
    return v != null && v.isTextual() ? v.asText() : fallback;
  }
}
