package dev.fleet.engine.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Turns a prompt into exactly {@link #maxLength()} token ids, as the reference pipeline's Hugging
 * Face tokenizers do with {@code truncation=True, padding="max_length"}: the tokenizer's
 * post-processor adds its special tokens (CLIP: {@code <|startoftext|> … <|endoftext|>}; T5: {@code
 * … </s>}), truncation makes room for them first so the end token always survives, and the rest is
 * filled with the pad id. Runs offline from the tokenizer files of a model directory.
 */
public final class PromptTokenizer implements AutoCloseable {

  /** CLIP's context length: the CLIP length when the tokenizer files carry none. */
  public static final int CLIP_LENGTH = 77;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer tokenizer;
  private final int maxLength;
  private final long padId;
  private final Path dir;

  private PromptTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long padId, Path dir) {
    this.tokenizer = tokenizer;
    this.maxLength = maxLength;
    this.padId = padId;
    this.dir = dir;
  }

  /**
   * The CLIP tokenizer of a FLUX model ({@code MODEL/tokenizer}): {@code tokenizer.json}, or the
   * {@code vocab.json} + {@code merges.txt} layout FLUX.1-dev ships. Length: the one the
   * tokenizer.json carries, else 77; padding with its pad token, else {@code <|endoftext|>}.
   */
  public static PromptTokenizer clip(Path dir) {
    requireDirectory(dir, "CLIP tokenizer");
    Path file = dir.resolve("tokenizer.json");
    String json;
    if (Files.isRegularFile(file)) {
      json = read(file);
    } else if (ClipBpeTokenizerJson.present(dir)) {
      json = ClipBpeTokenizerJson.build(dir);
    } else {
      throw new IllegalArgumentException(
          "CLIP tokenizer directory "
              + dir
              + " has neither tokenizer.json nor vocab.json + merges.txt");
    }
    return create(json, dir, CLIP_LENGTH, "<|endoftext|>");
  }

  /**
   * The T5 tokenizer of a FLUX model ({@code MODEL/tokenizer_2}); it needs {@code tokenizer.json}
   * (FLUX.1-dev ships one beside {@code spiece.model}). Length: the one the tokenizer.json carries,
   * else {@code pipelineLength} (512 for FLUX.1-dev, 256 for schnell); padding with {@code <pad>}.
   */
  public static PromptTokenizer t5(Path dir, int pipelineLength) {
    if (pipelineLength < 2) {
      throw new IllegalArgumentException(
          "T5 pipeline length must be at least 2, got " + pipelineLength);
    }
    requireDirectory(dir, "T5 tokenizer");
    Path file = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "T5 tokenizer directory "
              + dir
              + " has no tokenizer.json; it is required (a SentencePiece spiece.model alone is not"
              + " supported: convert it once with Hugging Face's T5TokenizerFast.save_pretrained)");
    }
    return create(read(file), dir, pipelineLength, "<pad>");
  }

  private static PromptTokenizer create(
      String json, Path dir, int defaultLength, String defaultPad) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("tokenizer in " + dir + " is not valid JSON", e);
    }
    int length = carriedLength(root).orElse(defaultLength);
    long padId = padId(root, SpecialTokens.read(dir).pad(defaultPad), dir);
    // Truncation stays in the library, which subtracts the post-processor's special tokens from
    // the budget before truncating; padding is ours, so it never depends on a default pad token.
    Map<String, String> options =
        Map.of(
            "addSpecialTokens", "true",
            "truncation", "true",
            "padding", "false",
            "maxLength", Integer.toString(length),
            "modelMaxLength", Integer.toString(length));
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer =
          HuggingFaceTokenizer.newInstance(
              new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), options);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("cannot load the tokenizer in " + dir, e);
    }
    return new PromptTokenizer(tokenizer, length, padId, dir);
  }

  /**
   * Token ids of the prompt: special tokens added, truncated to and padded to {@link #maxLength()}.
   */
  public long[] encode(String prompt) {
    Objects.requireNonNull(prompt, "prompt");
    long[] ids = tokenizer.encode(prompt).getIds();
    if (ids.length > maxLength) {
      throw new IllegalStateException(
          "tokenizer in " + dir + " returned " + ids.length + " ids for length " + maxLength);
    }
    long[] out = Arrays.copyOf(ids, maxLength);
    Arrays.fill(out, ids.length, maxLength, padId);
    return out;
  }

  /** The number of ids {@link #encode} returns. */
  public int maxLength() {
    return maxLength;
  }

  public long padId() {
    return padId;
  }

  /** The tokenizer directory, for messages. */
  public Path dir() {
    return dir;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  /** The fixed padding length, else the truncation length, that a tokenizer.json carries. */
  private static OptionalInt carriedLength(JsonNode root) {
    JsonNode fixed = root.path("padding").path("strategy").path("Fixed");
    if (fixed.canConvertToInt() && fixed.intValue() > 0) {
      return OptionalInt.of(fixed.intValue());
    }
    JsonNode truncation = root.path("truncation").path("max_length");
    if (truncation.canConvertToInt() && truncation.intValue() > 0) {
      return OptionalInt.of(truncation.intValue());
    }
    return OptionalInt.empty();
  }

  /** The pad id the tokenizer.json declares, else the id of {@code padToken} in its vocabulary. */
  private static long padId(JsonNode root, String padToken, Path dir) {
    JsonNode declared = root.path("padding").path("pad_id");
    if (declared.canConvertToLong()) {
      return declared.longValue();
    }
    for (JsonNode t : root.path("added_tokens")) {
      if (padToken.equals(t.path("content").asText(null))) {
        return t.path("id").longValue();
      }
    }
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject() && vocab.get(padToken) != null) {
      return vocab.get(padToken).longValue();
    }
    if (vocab.isArray()) {
      for (int i = 0; i < vocab.size(); i++) {
        if (padToken.equals(vocab.get(i).path(0).asText(null))) {
          return i;
        }
      }
    }
    throw new IllegalArgumentException(
        "tokenizer in " + dir + " has no id for its pad token " + padToken);
  }

  private static void requireDirectory(Path dir, String what) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(what + " directory " + dir + " does not exist");
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
