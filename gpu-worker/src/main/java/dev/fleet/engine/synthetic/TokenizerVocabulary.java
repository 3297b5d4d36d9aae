package dev.fleet.engine.synthetic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * The id range of a tokenizer folder, so that a model's embedding table can be checked to hold
 * every id the tokenizer produces: {@code tokenizer.json} (BPE, WordPiece or Unigram) or the {@code
 * vocab.json} layout of FLUX.1-dev's CLIP tokenizer.
 */
final class TokenizerVocabulary {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerVocabulary() {}

  /** One more than the largest id the tokenizer in {@code dir} can produce. */
  static int idLimit(Path dir) {
    Path tokenizerJson = dir.resolve("tokenizer.json");
    Path vocabJson = dir.resolve("vocab.json");
    int max;
    if (Files.isRegularFile(tokenizerJson)) {
      JsonNode root = read(tokenizerJson);
      JsonNode vocab = root.path("model").path("vocab");
      if (vocab.isArray()) {
        max = vocab.size() - 1; // Unigram: [piece, score] pairs, the id is the index
      } else if (vocab.isObject()) {
        max = maxValue(vocab);
      } else {
        throw new IllegalArgumentException(tokenizerJson + " has no model.vocab");
      }
      for (JsonNode added : root.path("added_tokens")) {
        max = Math.max(max, added.path("id").asInt(-1));
      }
    } else if (Files.isRegularFile(vocabJson)) {
      max = maxValue(read(vocabJson));
      Path config = dir.resolve("tokenizer_config.json");
      if (Files.isRegularFile(config)) {
        Iterator<String> ids = read(config).path("added_tokens_decoder").fieldNames();
        while (ids.hasNext()) {
          max = Math.max(max, Integer.parseInt(ids.next()));
        }
      }
    } else {
      throw new IllegalArgumentException(
          "tokenizer folder " + dir + " has neither tokenizer.json nor vocab.json");
    }
    return max + 1;
  }

  private static int maxValue(JsonNode idsByToken) {
    int max = -1;
    for (JsonNode id : idsByToken) {
      max = Math.max(max, id.asInt(-1));
    }
    return max;
  }

  private static JsonNode read(Path file) {
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer file " + file, e);
    }
  }
}
