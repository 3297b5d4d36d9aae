package dev.fleet.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PromptTokenizerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path CLIP_DIR = Fixtures.MODEL.resolve("tokenizer");
  private static final Path T5_DIR = Fixtures.MODEL.resolve("tokenizer_2");
  private static final String LONG_PROMPT =
      "a red fox sitting in the snow at dawn, highly detailed, ".repeat(12);

  @Test
  void clipIdsMatchTheReference() throws IOException {
    JsonNode c = caseJson();
    try (PromptTokenizer clip = PromptTokenizer.clip(CLIP_DIR)) {
      long[] ids = clip.encode(c.get("prompt").asText());
      assertEquals(77, clip.maxLength());
      assertArrayEquals(longs(c.get("clip_ids")), ids);
      assertArrayEquals(expectedIds("clip.in.ids"), ids);
    }
  }

  @Test
  void t5IdsMatchTheReferenceAtTheLengthTheTokenizerCarries() throws IOException {
    JsonNode c = caseJson();
    try (PromptTokenizer t5 = PromptTokenizer.t5(T5_DIR, 512)) {
      long[] ids = t5.encode(c.get("prompt").asText());
      assertEquals(c.get("t5_max_length").asInt(), t5.maxLength());
      assertArrayEquals(longs(c.get("t5_ids")), ids);
      assertArrayEquals(expectedIds("t5.in.ids"), ids);
    }
  }

  /**
   * The bundled model's word-level tokenizers (English words and Chinese words split by the pattern
   * their tokenizer.json carries) give the ids its training script trained with:
   * shapes-token-cases.json is written by {@code train_shapes.py --write-token-cases}.
   */
  @Test
  void theBundledModelsTokenizersGiveTheIdsItWasTrainedWith() throws IOException {
    JsonNode cases =
        JSON.readTree(
            Files.readString(
                Path.of("src/test/resources/shapes-token-cases.json"), StandardCharsets.UTF_8));
    assertTrue(cases.size() > 50, "cases: " + cases.size());
    try (PromptTokenizer clip = PromptTokenizer.clip(Fixtures.SHAPES_MODEL.resolve("tokenizer"));
        PromptTokenizer t5 =
            PromptTokenizer.t5(Fixtures.SHAPES_MODEL.resolve("tokenizer_2"), 512)) {
      for (JsonNode c : cases) {
        String caption = c.get("caption").asText();
        assertArrayEquals(longs(c.get("clip_ids")), clip.encode(caption), "CLIP: " + caption);
        assertArrayEquals(longs(c.get("t5_ids")), t5.encode(caption), "T5: " + caption);
      }
    }
  }

  @Test
  void truncationKeepsTheEndTokens() {
    try (PromptTokenizer clip = PromptTokenizer.clip(CLIP_DIR);
        PromptTokenizer t5 = PromptTokenizer.t5(T5_DIR, 512)) {
      long[] c = clip.encode(LONG_PROMPT);
      assertEquals(77, c.length);
      assertEquals(318, c[0]);
      assertEquals(319, c[76]);
      assertTrue(c[75] != 319, "the prompt must fill the window up to the end token");
      long[] t = t5.encode(LONG_PROMPT);
      assertEquals(32, t.length);
      assertEquals(1, t[31]);
      assertTrue(t[30] != 0 && t[30] != 1);
    }
  }

  @Test
  void t5WithoutACarriedLengthUsesThePipelineLength(@TempDir Path tmp) throws IOException {
    ObjectNode root = (ObjectNode) JSON.readTree(T5_DIR.resolve("tokenizer.json").toFile());
    root.putNull("padding");
    root.putNull("truncation");
    Files.writeString(tmp.resolve("tokenizer.json"), JSON.writeValueAsString(root));
    long[] reference;
    try (PromptTokenizer fixture = PromptTokenizer.t5(T5_DIR, 512)) {
      reference = fixture.encode("a red fox");
    }
    try (PromptTokenizer t5 = PromptTokenizer.t5(tmp, 48)) {
      assertEquals(48, t5.maxLength());
      assertEquals(0, t5.padId());
      long[] ids = t5.encode("a red fox");
      assertEquals(48, ids.length);
      int n = 0;
      while (reference[n] != 0) {
        n++;
      }
      for (int i = 0; i < 48; i++) {
        assertEquals(i < n ? reference[i] : 0, ids[i], "position " + i);
      }
      long[] truncated = t5.encode(LONG_PROMPT);
      assertEquals(1, truncated[47]);
    }
  }

  /**
   * The fixture's tokenizer.json splits words on whitespace and punctuation and has no byte-level
   * step; the prompts stay within what both read alike (ASCII, no digit runs or apostrophes, words
   * ending in a letter the tiny vocabulary knows as word end).
   */
  @Test
  void clipFromVocabAndMergesMatchesTheTokenizerJson(@TempDir Path tmp) throws IOException {
    writeVocabAndMerges(tmp);
    List<String> prompts =
        List.of(
            "a red fox sitting in the snow at dawn, highly detailed",
            "A RED Fox, Sitting  IN the\tsnow -- at dawn",
            "a-frame cabin, warm light, soft glow, fog",
            "a glowing-green sky,cloudy -- stormy night",
            "",
            LONG_PROMPT,
            LONG_PROMPT.toUpperCase());
    try (PromptTokenizer json = PromptTokenizer.clip(CLIP_DIR);
        PromptTokenizer built = PromptTokenizer.clip(tmp)) {
      assertEquals(77, built.maxLength());
      assertEquals(319, built.padId());
      for (String p : prompts) {
        assertArrayEquals(json.encode(p), built.encode(p), p);
      }
    }
  }

  @Test
  void missingFilesAreNamed(@TempDir Path tmp) {
    var clip = assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.clip(tmp));
    assertTrue(clip.getMessage().contains(tmp.toString()), clip.getMessage());
    assertTrue(clip.getMessage().contains("tokenizer.json"), clip.getMessage());
    var t5 = assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.t5(tmp, 512));
    assertTrue(t5.getMessage().contains(tmp.toString()), t5.getMessage());
    assertTrue(t5.getMessage().contains("tokenizer.json"), t5.getMessage());
    Path absent = tmp.resolve("absent");
    var gone = assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.clip(absent));
    assertTrue(gone.getMessage().contains(absent.toString()), gone.getMessage());
    assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.t5(T5_DIR, 0));
  }

  @Test
  void vocabWithoutTheSpecialTokensIsRefused(@TempDir Path tmp) throws IOException {
    writeVocabAndMerges(tmp);
    ObjectNode vocab = (ObjectNode) JSON.readTree(tmp.resolve("vocab.json").toFile());
    vocab.remove("<|endoftext|>");
    Files.writeString(tmp.resolve("vocab.json"), JSON.writeValueAsString(vocab));
    var e = assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.clip(tmp));
    assertTrue(e.getMessage().contains("<|endoftext|>"), e.getMessage());
    assertTrue(e.getMessage().contains("vocab.json"), e.getMessage());
  }

  /** The FLUX.1-dev layout: vocab.json (with the special tokens) and merges.txt with a header. */
  private static void writeVocabAndMerges(Path dir) throws IOException {
    JsonNode root = JSON.readTree(CLIP_DIR.resolve("tokenizer.json").toFile());
    ObjectNode vocab = root.get("model").get("vocab").deepCopy();
    for (JsonNode t : root.get("added_tokens")) {
      vocab.put(t.get("content").asText(), t.get("id").asInt());
    }
    Files.writeString(dir.resolve("vocab.json"), JSON.writeValueAsString(vocab));
    List<String> lines = new ArrayList<>();
    lines.add("#version: 0.2");
    for (JsonNode m : root.get("model").get("merges")) {
      lines.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
    }
    Files.write(dir.resolve("merges.txt"), lines, StandardCharsets.UTF_8);
  }

  private static JsonNode caseJson() throws IOException {
    return JSON.readTree(Fixtures.CASE.toFile());
  }

  private static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }

  private static long[] expectedIds(String name) {
    try (TensorStore store = TensorStore.open(Fixtures.EXPECTED)) {
      ByteBuffer b = store.bytes(name).duplicate().order(ByteOrder.LITTLE_ENDIAN);
      long[] out = new long[b.remaining() / 8];
      b.asLongBuffer().get(out);
      return out;
    }
  }
}
