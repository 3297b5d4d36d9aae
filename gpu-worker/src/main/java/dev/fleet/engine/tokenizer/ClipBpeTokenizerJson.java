package dev.fleet.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds, in memory, the {@code tokenizer.json} that Hugging Face's CLIP converter makes from the
 * {@code vocab.json} + {@code merges.txt} layout in which FLUX.1-dev ships its CLIP tokenizer:
 * byte-level BPE with a {@code </w>} end-of-word suffix, NFC + whitespace-collapse + lowercase
 * normalisation, CLIP's word-splitting regex, and {@code <|startoftext|> $A <|endoftext|>}.
 */
final class ClipBpeTokenizerJson {
  private ClipBpeTokenizerJson() {}

  static final String VOCAB = "vocab.json";
  static final String MERGES = "merges.txt";

  /** CLIP's word pattern (contractions, letter runs, single digits, other non-space runs). */
  private static final String CLIP_WORD_REGEX =
      "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

  /**
   * CLIPTokenizer reads at most this many merges (vocabulary 49152 minus 256 byte tokens and the
   * two special tokens); the rest of a longer file would name tokens the vocabulary lacks.
   */
  private static final int MAX_MERGES = 49152 - 256 - 2;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** True when {@code dir} holds the vocab.json + merges.txt pair. */
  static boolean present(Path dir) {
    return Files.isRegularFile(dir.resolve(VOCAB)) && Files.isRegularFile(dir.resolve(MERGES));
  }

  /**
   * The tokenizer.json text for the CLIP tokenizer in {@code dir}. Special tokens come from {@code
   * special_tokens_map.json} when present, else CLIP's {@code <|startoftext|>}/{@code
   * <|endoftext|>}; both must be in the vocabulary.
   */
  static String build(Path dir) {
    Path vocabPath = dir.resolve(VOCAB);
    Path mergesPath = dir.resolve(MERGES);
    JsonNode vocab = readJson(vocabPath);
    if (!vocab.isObject()) {
      throw new IllegalArgumentException(vocabPath + " is not a JSON object of token -> id");
    }
    SpecialTokens special = SpecialTokens.read(dir);
    String bos = special.bos("<|startoftext|>");
    String eos = special.eos("<|endoftext|>");
    String unk = special.unk(eos);
    int bosId = requireId(vocab, bos, vocabPath);
    int eosId = requireId(vocab, eos, vocabPath);
    requireId(vocab, unk, vocabPath);

    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    addSpecial(added, bosId, bos);
    if (eosId != bosId) {
      addSpecial(added, eosId, eos);
    }
    root.set("normalizer", normalizer());
    root.set("pre_tokenizer", preTokenizer());
    root.set("post_processor", postProcessor(bos, bosId, eos, eosId));
    ObjectNode decoder = root.putObject("decoder");
    decoder.put("type", "ByteLevel");
    decoder.put("add_prefix_space", true);
    decoder.put("trim_offsets", true);
    decoder.put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.put("unk_token", unk);
    model.put("continuing_subword_prefix", "");
    model.put("end_of_word_suffix", "</w>");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.set("vocab", vocab);
    ArrayNode merges = model.putArray("merges");
    readMerges(mergesPath).forEach(merges::add);
    try {
      return JSON.writeValueAsString(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serialise the tokenizer built from " + dir, e);
    }
  }

  private static ObjectNode normalizer() {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "Sequence");
    ArrayNode seq = n.putArray("normalizers");
    seq.addObject().put("type", "NFC");
    ObjectNode replace = seq.addObject();
    replace.put("type", "Replace");
    replace.putObject("pattern").put("Regex", "\\s+");
    replace.put("content", " ");
    seq.addObject().put("type", "Lowercase");
    return n;
  }

  private static ObjectNode preTokenizer() {
    ObjectNode p = JSON.createObjectNode();
    p.put("type", "Sequence");
    ArrayNode seq = p.putArray("pretokenizers");
    ObjectNode split = seq.addObject();
    split.put("type", "Split");
    split.putObject("pattern").put("Regex", CLIP_WORD_REGEX);
    split.put("behavior", "Removed");
    split.put("invert", true);
    ObjectNode byteLevel = seq.addObject();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    byteLevel.put("use_regex", true);
    return p;
  }

  private static ObjectNode postProcessor(String bos, int bosId, String eos, int eosId) {
    ObjectNode p = JSON.createObjectNode();
    p.put("type", "TemplateProcessing");
    ArrayNode single = p.putArray("single");
    single.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
    single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    single.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
    ArrayNode pair = p.putArray("pair");
    pair.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
    pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
    pair.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
    ObjectNode tokens = p.putObject("special_tokens");
    specialEntry(tokens, bos, bosId);
    specialEntry(tokens, eos, eosId);
    return p;
  }

  private static void specialEntry(ObjectNode tokens, String token, int id) {
    ObjectNode e = tokens.putObject(token);
    e.put("id", token);
    e.putArray("ids").add(id);
    e.putArray("tokens").add(token);
  }

  private static void addSpecial(ArrayNode added, int id, String content) {
    ObjectNode t = added.addObject();
    t.put("id", id);
    t.put("content", content);
    t.put("single_word", false);
    t.put("lstrip", false);
    t.put("rstrip", false);
    t.put("normalized", false);
    t.put("special", true);
  }

  private static int requireId(JsonNode vocab, String token, Path vocabPath) {
    JsonNode id = vocab.get(token);
    if (id == null || !id.canConvertToInt()) {
      throw new IllegalArgumentException(vocabPath + " has no id for the special token " + token);
    }
    return id.intValue();
  }

  /** "a b" lines after the optional "#version" header, at most {@link #MAX_MERGES}. */
  private static List<String> readMerges(Path path) {
    List<String> lines;
    try {
      lines = Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path, e);
    }
    int start = !lines.isEmpty() && lines.get(0).startsWith("#version") ? 1 : 0;
    List<String> merges =
        lines.subList(start, lines.size()).stream()
            .filter(l -> !l.isBlank())
            .limit(MAX_MERGES)
            .toList();
    for (int i = 0; i < merges.size(); i++) {
      if (merges.get(i).strip().split(" ").length != 2) {
        throw new IllegalArgumentException(
            path + ": merge " + (i + 1) + " is not two space-separated tokens: " + merges.get(i));
      }
    }
    return merges.stream().map(String::strip).toList();
  }

  static JsonNode readJson(Path path) {
    try {
      return JSON.readTree(path.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read JSON " + path, e);
    }
  }
}
