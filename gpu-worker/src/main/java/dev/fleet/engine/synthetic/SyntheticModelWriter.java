package dev.fleet.engine.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.StreamingSafetensorsWriter;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.model.memory.AutoencoderDims;
import dev.fleet.model.memory.ClipDims;
import dev.fleet.model.memory.DitDims;
import dev.fleet.model.memory.T5Dims;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a complete FLUX model directory of a {@link ModelShape} with seeded random weights, in the
 * FLUX.1-dev layout the pipeline loads: {@code transformer/} (a BFL single file, optionally with
 * its BFL {@code config.json}), {@code vae/ae.safetensors} + {@code config.json}, {@code
 * text_encoder/} (CLIP, {@code text_model.} keys), {@code text_encoder_2/} (T5 in shards with
 * {@code model.safetensors.index.json}), and {@code tokenizer/} + {@code tokenizer_2/} copied from
 * an existing model. Weights are normal with std {@code 1/sqrt(fan_in)} (biases 0.02, embeddings as
 * transformers initialises them), norm scales 1 and norm biases 0, so activations keep their size
 * through any depth. Each tensor has its own random stream, seeded from the seed, the component and
 * the key: the same shape and seed give the same values whatever the storage type or sharding.
 *
 * <p>Files are streamed tensor by tensor ({@link StreamingSafetensorsWriter}): the heap holds the
 * largest tensor's values, not a file.
 *
 * @param shape what to write
 * @param tokenizerSource a model directory whose {@code tokenizer/} and {@code tokenizer_2/} are
 *     copied; every id they produce must fit the shape's vocabularies
 * @param seed seeds every weight
 * @param ditStorage the storage type of the transformer
 * @param ditConfig whether {@code transformer/config.json} is written (real single-file checkpoints
 *     have none: their parameters are then inferred from the shapes)
 * @param t5Shards the number of files T5 is split into
 * @param textStorage the storage type of both text encoders (F32 or BF16)
 */
public record SyntheticModelWriter(
    ModelShape shape,
    Path tokenizerSource,
    long seed,
    DitStorage ditStorage,
    boolean ditConfig,
    int t5Shards,
    DType textStorage) {

  private static final Logger LOG = LoggerFactory.getLogger(SyntheticModelWriter.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** FLUX.1-dev ships T5 in two shards. */
  public static final int DEFAULT_T5_SHARDS = 2;

  /** The key prefix of transformers 4's {@code CLIPTextModel}, as in FLUX.1-dev. */
  static final String CLIP_PREFIX = "text_model.";

  public SyntheticModelWriter {
    if (shape == null || tokenizerSource == null || ditStorage == null || textStorage == null) {
      throw new IllegalArgumentException(
          "shape, tokenizer source, transformer storage and text storage are required");
    }
    int t5Tensors = shape.layout(Component.T5).size();
    if (t5Shards < 1 || t5Shards > t5Tensors) {
      throw new IllegalArgumentException(
          "t5Shards must be between 1 and the " + t5Tensors + " T5 tensors, got " + t5Shards);
    }
    if (textStorage != DType.F32 && textStorage != DType.BF16) {
      throw new IllegalArgumentException(
          "text encoders are stored as F32 or BF16, not " + textStorage);
    }
  }

  /** Float32 transformer with its config, seed 0, T5 in two float32 shards. */
  public static SyntheticModelWriter of(ModelShape shape, Path tokenizerSource) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, 0, DitStorage.F32, true, DEFAULT_T5_SHARDS, DType.F32);
  }

  public SyntheticModelWriter withSeed(long newSeed) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, newSeed, ditStorage, ditConfig, t5Shards, textStorage);
  }

  public SyntheticModelWriter withDitStorage(DitStorage storage) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, seed, storage, ditConfig, t5Shards, textStorage);
  }

  public SyntheticModelWriter withDitConfig(boolean write) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, seed, ditStorage, write, t5Shards, textStorage);
  }

  public SyntheticModelWriter withT5Shards(int shards) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, seed, ditStorage, ditConfig, shards, textStorage);
  }

  public SyntheticModelWriter withTextStorage(DType storage) {
    return new SyntheticModelWriter(
        shape, tokenizerSource, seed, ditStorage, ditConfig, t5Shards, storage);
  }

  /**
   * Writes the whole model into {@code dir}, which must be absent or empty.
   *
   * @return the written directory, resolved as the engine CLI resolves a model
   * @throws IllegalArgumentException when the tokenizers do not fit the shape or {@code dir} holds
   *     files
   */
  public ModelDirectory write(Path dir) throws IOException {
    checkTokenizers();
    requireEmpty(dir);
    long start = System.nanoTime();
    writeTransformer(dir, ditStorage);
    Path transformer = dir.resolve(Component.DIT.folder());
    if (ditConfig) {
      writeJson(transformer.resolve("config.json"), ditConfigJson(shape.dit()));
    }
    Path vae = dir.resolve(Component.VAE.folder());
    writeFile(
        vae.resolve("ae.safetensors"), Component.VAE, shape.layout(Component.VAE), t -> DType.F32);
    writeJson(vae.resolve("config.json"), vaeConfigJson(shape.vae()));
    writeClip(dir.resolve(Component.CLIP.folder()));
    writeT5(dir.resolve(Component.T5.folder()));
    copyFolder(tokenizerSource.resolve("tokenizer"), dir.resolve("tokenizer"));
    copyFolder(tokenizerSource.resolve("tokenizer_2"), dir.resolve("tokenizer_2"));
    LOG.info(
        "wrote synthetic model {} ({} parameters, seed {}) to {} in {} ms",
        shape.name(),
        shape.parameterCount(),
        seed,
        dir,
        (System.nanoTime() - start) / 1_000_000);
    return ModelDirectory.resolve(dir, null);
  }

  /**
   * Writes the transformer alone as {@code dir/transformer/<storage file name>}, beside any already
   * there (select one with {@code ModelDirectory.resolve(dir, fileName)}); the same seed gives the
   * same weights, rounded to the storage type.
   *
   * @return the written file
   */
  public Path writeTransformer(Path dir, DitStorage storage) throws IOException {
    Path file = dir.resolve(Component.DIT.folder()).resolve(storage.fileName());
    writeFile(file, Component.DIT, shape.layout(Component.DIT), storage::dtypeOf);
    return file;
  }

  private void writeClip(Path folder) throws IOException {
    List<TensorSpec> prefixed =
        shape.layout(Component.CLIP).stream()
            .map(t -> new TensorSpec(CLIP_PREFIX + t.name(), t.shape(), t.fill(), t.std()))
            .toList();
    writeFile(folder.resolve("model.safetensors"), Component.CLIP, prefixed, t -> textStorage);
    writeJson(folder.resolve("config.json"), clipConfigJson(shape.clip(), textStorage));
  }

  /** T5 in {@code t5Shards} files of about equal size, with Hugging Face's index and names. */
  private void writeT5(Path folder) throws IOException {
    List<List<TensorSpec>> shards = shard(shape.layout(Component.T5), t5Shards, textStorage);
    Map<String, String> weightMap = new TreeMap<>();
    long totalBytes = 0;
    for (int s = 0; s < shards.size(); s++) {
      String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
      writeFile(folder.resolve(file), Component.T5, shards.get(s), t -> textStorage);
      for (TensorSpec t : shards.get(s)) {
        weightMap.put(t.name(), file);
        totalBytes += t.elements() * textStorage.bytes();
      }
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", totalBytes);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    writeJson(folder.resolve("model.safetensors.index.json"), index);
    writeJson(folder.resolve("config.json"), t5ConfigJson(shape.t5(), textStorage));
  }

  /**
   * Splits tensors, in order, into {@code count} runs of about equal bytes, none empty: a run ends
   * once it reaches its share, or early when every later shard needs one of the tensors left.
   */
  static List<List<TensorSpec>> shard(List<TensorSpec> tensors, int count, DType dtype) {
    long total = 0;
    for (TensorSpec t : tensors) {
      total += t.elements() * dtype.bytes();
    }
    List<List<TensorSpec>> shards = new ArrayList<>();
    shards.add(new ArrayList<>());
    long written = 0;
    for (int i = 0; i < tensors.size(); i++) {
      int current = shards.size() - 1;
      boolean hasTensors = !shards.get(current).isEmpty();
      boolean reachedShare = written * count >= (current + 1) * total;
      boolean othersNeedTheRest = tensors.size() - i <= count - 1 - current;
      if (hasTensors && current < count - 1 && (reachedShare || othersNeedTheRest)) {
        shards.add(new ArrayList<>());
      }
      shards.get(shards.size() - 1).add(tensors.get(i));
      written += tensors.get(i).elements() * dtype.bytes();
    }
    return shards;
  }

  /**
   * Fills, encodes and writes one safetensors file, one tensor at a time (the heap holds one
   * tensor's values, however large the file).
   */
  private void writeFile(
      Path file, Component component, List<TensorSpec> tensors, Function<TensorSpec, DType> dtype)
      throws IOException {
    try (EncodedTensorStore store =
        new EncodedTensorStore(
            tensors, dtype, t -> Narrowing.encode(values(component, t), dtype.apply(t)))) {
      StreamingSafetensorsWriter.write(store, file, Map.of("format", "pt"));
    }
  }

  /** The float32 values of a tensor, from its own seeded stream. */
  float[] values(Component component, TensorSpec t) {
    float[] v = new float[Math.toIntExact(t.elements())];
    switch (t.fill()) {
      case ONES -> Arrays.fill(v, 1f);
      case ZEROS -> {
        // already zero
      }
      case NORMAL -> {
        SplittableRandom random = new SplittableRandom(streamSeed(component, t.name()));
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) (random.nextGaussian() * t.std());
        }
      }
    }
    return v;
  }

  /** The seed mixed with a 64-bit FNV-1a hash of "component/key". */
  private long streamSeed(Component component, String key) {
    long h = 0xcbf29ce484222325L;
    for (byte b : (component.name() + "/" + key).getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xff)) * 0x100000001b3L;
    }
    return h ^ (seed * 0x9e3779b97f4a7c15L);
  }

  /**
   * Every id the tokenizers produce must index the embedding tables, and CLIP's sequence must fit
   * its position table; checked before anything is written.
   */
  private void checkTokenizers() {
    Path clipDir = tokenizerSource.resolve("tokenizer");
    Path t5Dir = tokenizerSource.resolve("tokenizer_2");
    for (Path d : List.of(clipDir, t5Dir)) {
      if (!Files.isDirectory(d)) {
        throw new IllegalArgumentException(
            "tokenizer source " + tokenizerSource + " has no " + d.getFileName() + "/ folder");
      }
    }
    requireFits(
        "CLIP", clipDir, TokenizerVocabulary.idLimit(clipDir), shape.clip().dims().vocabSize());
    requireFits("T5", t5Dir, TokenizerVocabulary.idLimit(t5Dir), shape.t5().dims().vocabSize());
    try (PromptTokenizer clip = PromptTokenizer.clip(clipDir)) {
      if (clip.maxLength() > shape.clip().dims().sequenceLength()) {
        throw new IllegalArgumentException(
            "the CLIP tokenizer in "
                + clipDir
                + " produces "
                + clip.maxLength()
                + " tokens but the shape's CLIP max_position_embeddings is "
                + shape.clip().dims().sequenceLength());
      }
    }
  }

  private void requireFits(String what, Path dir, int idLimit, int vocabSize) {
    if (idLimit > vocabSize) {
      throw new IllegalArgumentException(
          "the "
              + what
              + " tokenizer in "
              + dir
              + " produces ids up to "
              + (idLimit - 1)
              + " but the shape "
              + shape.name()
              + " has a "
              + what
              + " vocab_size of "
              + vocabSize
              + ": give the shape at least "
              + idLimit
              + " or copy another tokenizer");
    }
  }

  static void requireEmpty(Path dir) throws IOException {
    if (Files.exists(dir)) {
      if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException(dir + " exists and is not a directory");
      }
      try (Stream<Path> s = Files.list(dir)) {
        if (s.findAny().isPresent()) {
          throw new IllegalArgumentException(
              dir + " is not empty; a synthetic model is written into a new or empty directory");
        }
      }
    }
    Files.createDirectories(dir);
  }

  private static void copyFolder(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> s = Files.list(from)) {
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  static void writeJson(Path file, ObjectNode json) {
    try {
      Files.createDirectories(file.getParent());
      JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** BFL's {@code FluxParams}, as the bundled fixture's {@code transformer/config.json}. */
  static ObjectNode ditConfigJson(FluxParams p) {
    DitDims d = p.dims();
    ObjectNode n = JSON.createObjectNode();
    n.put("in_channels", d.inChannels());
    n.put("out_channels", d.outChannels());
    n.put("vec_in_dim", d.vecInDim());
    n.put("context_in_dim", d.contextInDim());
    n.put("hidden_size", d.hiddenSize());
    n.put("mlp_ratio", d.mlpRatio());
    n.put("num_heads", d.numHeads());
    n.put("depth", d.depth());
    n.put("depth_single_blocks", d.depthSingleBlocks());
    ArrayNode axes = n.putArray("axes_dim");
    p.axesDim().forEach(axes::add);
    n.put("theta", p.theta());
    n.put("qkv_bias", d.qkvBias());
    n.put("guidance_embed", d.guidanceEmbed());
    return n;
  }

  /** BFL's {@code AutoEncoderParams}. */
  static ObjectNode vaeConfigJson(AutoEncoderParams p) {
    AutoencoderDims d = p.dims();
    ObjectNode n = JSON.createObjectNode();
    n.put("resolution", p.resolution());
    n.put("in_channels", d.inChannels());
    n.put("ch", d.ch());
    n.put("out_ch", d.outChannels());
    ArrayNode mult = n.putArray("ch_mult");
    d.chMult().forEach(mult::add);
    n.put("num_res_blocks", d.numResBlocks());
    n.put("z_channels", d.zChannels());
    n.put("scale_factor", p.scaleFactor());
    n.put("shift_factor", p.shiftFactor());
    return n;
  }

  /** A transformers {@code CLIPTextConfig} (bos 0, pad 1, as FLUX.1-dev's). */
  public static ObjectNode clipConfigJson(ClipTextConfig c, DType storage) {
    ClipDims d = c.dims();
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("CLIPTextModel");
    n.put("model_type", "clip_text_model");
    n.put("attention_dropout", 0.0);
    n.put("bos_token_id", 0);
    n.put("pad_token_id", 1);
    n.put("eos_token_id", c.eosTokenId());
    n.put("hidden_act", c.hiddenAct());
    n.put("hidden_size", d.hiddenSize());
    n.put("intermediate_size", d.intermediateSize());
    n.put("layer_norm_eps", c.layerNormEps());
    n.put("max_position_embeddings", d.sequenceLength());
    n.put("num_attention_heads", d.heads());
    n.put("num_hidden_layers", d.layers());
    n.put("projection_dim", d.hiddenSize());
    n.put("vocab_size", d.vocabSize());
    n.put("torch_dtype", torchDtype(storage));
    return n;
  }

  /** A transformers {@code T5Config} of a v1.1 encoder (gated GELU, untied embeddings). */
  public static ObjectNode t5ConfigJson(T5Config c, DType storage) {
    T5Dims d = c.dims();
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("T5EncoderModel");
    n.put("model_type", "t5");
    n.put("d_ff", d.dFf());
    n.put("d_kv", d.dKv());
    n.put("d_model", d.dModel());
    n.put("dense_act_fn", "gelu_new");
    n.put("feed_forward_proj", c.feedForwardProj());
    n.put("is_gated_act", true);
    n.put("layer_norm_epsilon", c.layerNormEps());
    n.put("num_heads", d.heads());
    n.put("num_layers", d.layers());
    n.put("relative_attention_num_buckets", d.numBuckets());
    n.put("relative_attention_max_distance", c.maxDistance());
    n.put("vocab_size", d.vocabSize());
    n.put("pad_token_id", 0);
    n.put("eos_token_id", 1);
    n.put("decoder_start_token_id", 0);
    n.put("tie_word_embeddings", false);
    n.put("torch_dtype", torchDtype(storage));
    return n;
  }

  private static String torchDtype(DType storage) {
    return storage == DType.BF16 ? "bfloat16" : "float32";
  }
}
