package dev.fleet.engine.nextdit;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One of NewBie's tokenizers from its {@code tokenizer.json} (through DJL's Hugging Face
 * tokenizers): the post-processor's special tokens added ({@code <bos> …} for Gemma, {@code <s> …
 * </s>} for Jina), truncated to a maximum length, a batch padded to its longest row (Gemma: rounded
 * up to a multiple of 8) with the pad id.
 */
public final class NewbieTokenizer implements AutoCloseable {
  /** NewBie's Gemma settings: truncation at 512, padding to a multiple of 8, {@code <pad>} = 0. */
  public static final int GEMMA_MAX_LENGTH = 512;

  public static final int GEMMA_PAD_MULTIPLE = 8;

  /** NewBie's Jina settings: truncation at 2048, {@code <pad>} = 1. */
  public static final int JINA_MAX_LENGTH = 2048;

  private final HuggingFaceTokenizer tokenizer;
  private final long padId;
  private final int padMultiple;

  private NewbieTokenizer(HuggingFaceTokenizer tokenizer, long padId, int padMultiple) {
    this.tokenizer = tokenizer;
    this.padId = padId;
    this.padMultiple = padMultiple;
  }

  /** The Gemma tokenizer of {@code dir} ({@code tokenizer.json}), pad {@code <pad>}. */
  public static NewbieTokenizer gemma(Path dir) {
    return open(dir, GEMMA_MAX_LENGTH, "<pad>", GEMMA_PAD_MULTIPLE);
  }

  /** The Jina (XLM-R) tokenizer of {@code dir}, pad {@code <pad>}. */
  public static NewbieTokenizer jina(Path dir) {
    return open(dir, JINA_MAX_LENGTH, "<pad>", 1);
  }

  private static NewbieTokenizer open(Path dir, int maxLength, String padToken, int multiple) {
    Path file = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no tokenizer: " + file + " does not exist");
    }
    Map<String, String> options =
        Map.of(
            "addSpecialTokens", "true",
            "truncation", "true",
            "padding", "false",
            "maxLength", Integer.toString(maxLength),
            "modelMaxLength", Integer.toString(maxLength));
    HuggingFaceTokenizer tokenizer;
    try (InputStream in = Files.newInputStream(file)) {
      tokenizer = HuggingFaceTokenizer.newInstance(in, options);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("cannot load the tokenizer " + file, e);
    }
    long pad;
    try {
      pad = padId(file, padToken);
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
    }
    return new NewbieTokenizer(tokenizer, pad, multiple);
  }

  /** The id of {@code padToken} among the tokenizer.json's added tokens. */
  private static long padId(Path file, String padToken) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    for (JsonNode t : root.path("added_tokens")) {
      if (padToken.equals(t.path("content").asText(null))) {
        return t.path("id").longValue();
      }
    }
    throw new IllegalArgumentException(file + " has no added token " + padToken);
  }

  /** Ids of one text, special tokens added, truncated to the maximum length. */
  public long[] encode(String text) {
    return tokenizer.encode(text).getIds();
  }

  /** Ids and mask of several texts, padded as NewBie's {@code encode_prompt} pads them. */
  public TokenBatch encode(List<String> texts) {
    List<long[]> rows = new ArrayList<>();
    for (String t : texts) {
      rows.add(encode(t));
    }
    return TokenBatch.pad(rows, padId, padMultiple);
  }

  public long padId() {
    return padId;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
