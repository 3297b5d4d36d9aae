package dev.fleet.engine.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.nextdit.NewbieDirectory;
import dev.fleet.engine.nextdit.NextDitParams;
import dev.fleet.engine.nextdit.NextDitTransformer;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.StreamingSafetensorsWriter;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.GemmaDims;
import dev.fleet.model.memory.JinaDims;
import dev.fleet.model.memory.NewbieDims;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a complete NewBie-image model directory of a {@link NewbieDims} with seeded random
 * weights, in the layout {@link NewbieDirectory} reads (that of the newbie-tiny fixture): {@code
 * transformer/} (the Next-DiT in NewBie's own key names, its layout recorded from {@link
 * NextDitTransformer#parameterShapes}, with its {@code config.json}), {@code text_encoder/} (Gemma
 * 3, {@link GemmaLayout}, {@code Gemma3TextConfig}), {@code clip_model/} (Jina CLIP v2's text
 * tower, {@link JinaLayout}, jina-clip-v2's nested config), {@code vae/} (FLUX's autoencoder,
 * {@link VaeLayout}, with NewBie's FLUX.1 scale and shift) and the two tokenizers.
 *
 * <p>The tokenizers are the fixture's, bundled as resources: a Gemma-style BPE (ids below 240) and
 * an XLM-R-style Unigram (ids below 249), trained on a few sentences. The embedding tables have the
 * preset's vocabulary sizes (262,208 and 250,002 for {@code newbie}), so the weights' byte sizes
 * are the real model's; the tokenizers' ids stay within them (checked before writing).
 *
 * <p>Each file is streamed from a {@link SyntheticTensorStore} one tensor at a time ({@link
 * StreamingSafetensorsWriter}), so the heap holds one tensor whatever the preset's size (the
 * largest of {@code newbie}: Gemma's 1.3 GB embedding table at 16 bits).
 *
 * @param dims what to write
 * @param seed seeds every weight
 * @param ditStorage the Next-DiT's storage type ({@link DitStorage#F8_E4M3}: the streamable blocks'
 *     matrices in float8, the rest bfloat16)
 * @param textStorage the storage type of both text encoders (F32 or BF16)
 */
public record NewbieModelWriter(
    NewbieDims dims, long seed, DitStorage ditStorage, DType textStorage) {

  private static final Logger LOG = LoggerFactory.getLogger(NewbieModelWriter.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKENIZERS = "/dev/fleet/engine/synthetic/newbie/";

  /** Gemma 3's sliding window and its period of one global layer in six (gemma-3-4b-it). */
  static final int SLIDING_WINDOW = 1024;

  static final int SLIDING_PATTERN = 6;

  public NewbieModelWriter {
    if (dims == null || ditStorage == null || textStorage == null) {
      throw new IllegalArgumentException(
          "dimensions, transformer storage and text storage are required");
    }
    if (textStorage != DType.F32 && textStorage != DType.BF16) {
      throw new IllegalArgumentException(
          "text encoders are stored as F32 or BF16, not " + textStorage);
    }
  }

  /** Seed 0, the DiT in bfloat16 and the text encoders in bfloat16, as the released files. */
  public static NewbieModelWriter of(NewbieDims dims) {
    return new NewbieModelWriter(dims, 0, DitStorage.BF16, DType.BF16);
  }

  public NewbieModelWriter withSeed(long newSeed) {
    return new NewbieModelWriter(dims, newSeed, ditStorage, textStorage);
  }

  public NewbieModelWriter withDitStorage(DitStorage storage) {
    return new NewbieModelWriter(dims, seed, storage, textStorage);
  }

  public NewbieModelWriter withTextStorage(DType storage) {
    return new NewbieModelWriter(dims, seed, ditStorage, storage);
  }

  /** The transformer's constructor arguments, as NewBie's {@code model_args}. */
  public NextDitParams ditParams() {
    return NextDitParams.of(dims.nextDit());
  }

  /**
   * The Next-DiT's tensors, as its loading code asks for them, and {@code norm_final.weight}, which
   * NewBie's checkpoints hold and its forward pass never reads.
   */
  public List<TensorSpec> ditLayout() {
    Map<String, long[]> shapes =
        new LinkedHashMap<>(NextDitTransformer.parameterShapes(ditParams()));
    shapes.put("norm_final.weight", new long[] {ditParams().dim()});
    return RecordedLayout.of(shapes);
  }

  /** The Gemma 3 text model's tensors. */
  public List<TensorSpec> gemmaLayout() {
    return GemmaLayout.of(dims.gemma());
  }

  /** The Jina text tower's tensors. */
  public List<TensorSpec> jinaLayout() {
    return JinaLayout.of(dims.jina());
  }

  /** The autoencoder's tensors (BFL names). */
  public List<TensorSpec> vaeLayout() {
    return VaeLayout.of(dims.autoencoder());
  }

  /** The storage type of one of the Next-DiT's tensors. */
  public DType ditDtypeOf(TensorSpec t) {
    return switch (ditStorage) {
      case F32 -> DType.F32;
      case BF16 -> DType.BF16;
      case F8_E4M3 -> isBlockMatrix(t) ? DType.F8_E4M3 : DType.BF16;
    };
  }

  /** The transformer's file name in {@code transformer/}, as the fixture names its copies. */
  public String ditFileName() {
    return switch (ditStorage) {
      case F32 -> "newbie.safetensors";
      case BF16 -> "newbie-bf16.safetensors";
      case F8_E4M3 -> "newbie-fp8-e4m3fn.safetensors";
    };
  }

  /**
   * A streamable block's matrix (noise refiner and joint blocks): what an fp8 NewBie checkpoint
   * stores in float8.
   */
  public static boolean isBlockMatrix(TensorSpec t) {
    return (t.name().startsWith("noise_refiner.") || t.name().startsWith("layers."))
        && t.name().endsWith(".weight")
        && t.rank() == 2;
  }

  /**
   * Writes the whole model into {@code dir}, which must be absent or empty.
   *
   * @return the written directory, resolved as the engine resolves a NewBie model
   * @throws IllegalArgumentException when {@code dir} holds files, or the bundled tokenizers
   *     produce ids past the preset's vocabularies
   */
  public NewbieDirectory write(Path dir) throws IOException {
    SyntheticModelWriter.requireEmpty(dir);
    long start = System.nanoTime();
    Path tokenizer = copyTokenizer("gemma-tokenizer.json", dir.resolve("tokenizer"));
    Path clipTokenizer = copyTokenizer("jina-tokenizer.json", dir.resolve("clip_tokenizer"));
    requireFits("Gemma", tokenizer, dims.gemma().vocabSize());
    requireFits("Jina", clipTokenizer, dims.jina().vocabSize());
    long bytes = 0;
    Path transformer = dir.resolve("transformer");
    bytes += writeFile(transformer.resolve(ditFileName()), ditLayout(), this::ditDtypeOf, 1);
    SyntheticModelWriter.writeJson(transformer.resolve("config.json"), ditConfigJson());
    Path gemma = dir.resolve("text_encoder");
    bytes += writeFile(gemma.resolve("model.safetensors"), gemmaLayout(), t -> textStorage, 2);
    SyntheticModelWriter.writeJson(gemma.resolve("config.json"), gemmaConfigJson(dims.gemma()));
    Path jina = dir.resolve("clip_model");
    bytes += writeFile(jina.resolve("model.safetensors"), jinaLayout(), t -> textStorage, 3);
    SyntheticModelWriter.writeJson(jina.resolve("config.json"), jinaConfigJson(dims.jina()));
    Path vae = dir.resolve("vae");
    bytes += writeFile(vae.resolve("ae.safetensors"), vaeLayout(), t -> DType.F32, 4);
    SyntheticModelWriter.writeJson(
        vae.resolve("config.json"),
        SyntheticModelWriter.vaeConfigJson(AutoEncoderParams.flux1(dims.autoencoder())));
    LOG.info(
        "wrote synthetic NewBie model {} ({} parameters, {} bytes of weights, seed {}) to {} in {}"
            + " ms",
        dims.name(),
        dims.params(),
        bytes,
        seed,
        dir,
        (System.nanoTime() - start) / 1_000_000);
    return NewbieDirectory.resolve(dir, null);
  }

  /** Streams one component's tensors to {@code file}; each component has its own seed stream. */
  private long writeFile(
      Path file, List<TensorSpec> layout, Function<TensorSpec, DType> dtype, int component)
      throws IOException {
    Files.createDirectories(file.getParent());
    try (SyntheticTensorStore store =
        new SyntheticTensorStore(layout, dtype, seed * 31 + component)) {
      return StreamingSafetensorsWriter.write(store, file, Map.of("format", "pt"));
    }
  }

  private static Path copyTokenizer(String resource, Path folder) throws IOException {
    Files.createDirectories(folder);
    Path file = folder.resolve("tokenizer.json");
    try (InputStream in = NewbieModelWriter.class.getResourceAsStream(TOKENIZERS + resource)) {
      if (in == null) {
        throw new IllegalStateException(
            "the bundled tokenizer " + TOKENIZERS + resource + " is missing");
      }
      Files.copy(in, file);
    }
    return folder;
  }

  private void requireFits(String what, Path folder, int vocabSize) {
    int limit = TokenizerVocabulary.idLimit(folder);
    if (limit > vocabSize) {
      throw new IllegalArgumentException(
          "the bundled "
              + what
              + " tokenizer produces ids up to "
              + (limit - 1)
              + " but "
              + dims.name()
              + " has a "
              + what
              + " vocab_size of "
              + vocabSize);
    }
  }

  /** NewBie's constructor arguments, as the fixture's {@code transformer/config.json}. */
  ObjectNode ditConfigJson() {
    NextDitParams p = ditParams();
    ObjectNode n = JSON.createObjectNode();
    n.put("_class", "models.model.NextDiT_CLIP");
    n.put("patch_size", p.patchSize());
    n.put("in_channels", p.inChannels());
    n.put("dim", p.dim());
    n.put("n_layers", p.nLayers());
    n.put("n_refiner_layers", p.nRefinerLayers());
    n.put("n_heads", p.nHeads());
    n.put("n_kv_heads", p.nKvHeads());
    n.put("multiple_of", p.multipleOf());
    if (p.ffnDimMultiplier() == null) {
      n.putNull("ffn_dim_multiplier");
    } else {
      n.put("ffn_dim_multiplier", p.ffnDimMultiplier());
    }
    n.put("norm_eps", p.normEps());
    n.put("qk_norm", true);
    n.put("cap_feat_dim", p.capFeatDim());
    ArrayNode axes = n.putArray("axes_dims");
    p.axesDims().forEach(axes::add);
    ArrayNode lens = n.putArray("axes_lens");
    p.axesLens().forEach(lens::add);
    n.put("clip_text_dim", p.clipTextDim());
    return n;
  }

  /**
   * A transformers {@code Gemma3TextConfig} as gemma-3-4b-it's text config: one global layer in
   * six, linear RoPE scaling 8 on the global layers, bos 2, eos 1, pad 0 (the bundled tokenizer's).
   */
  ObjectNode gemmaConfigJson(GemmaDims d) {
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("Gemma3TextModel");
    n.put("model_type", "gemma3_text");
    n.put("vocab_size", d.vocabSize());
    n.put("hidden_size", d.hiddenSize());
    n.put("intermediate_size", d.intermediateSize());
    n.put("num_hidden_layers", d.layers());
    n.put("num_attention_heads", d.heads());
    n.put("num_key_value_heads", d.kvHeads());
    n.put("head_dim", d.headDim());
    n.put("hidden_activation", "gelu_pytorch_tanh");
    n.put("max_position_embeddings", 131_072);
    n.put("rms_norm_eps", 1e-6);
    n.put("pad_token_id", 0);
    n.put("eos_token_id", 1);
    n.put("bos_token_id", 2);
    n.put("tie_word_embeddings", true);
    ObjectNode rope = n.putObject("rope_parameters");
    ObjectNode full = rope.putObject("full_attention");
    full.put("rope_type", "linear");
    full.put("factor", 8.0);
    full.put("rope_theta", 1_000_000.0);
    ObjectNode sliding = rope.putObject("sliding_attention");
    sliding.put("rope_type", "default");
    sliding.put("rope_theta", 10_000.0);
    n.put("attention_bias", false);
    n.put("query_pre_attn_scalar", d.headDim());
    n.put("sliding_window", SLIDING_WINDOW);
    ArrayNode types = n.putArray("layer_types");
    for (int i = 0; i < d.layers(); i++) {
      types.add((i + 1) % SLIDING_PATTERN == 0 ? "full_attention" : "sliding_attention");
    }
    n.put("torch_dtype", textStorage == DType.BF16 ? "bfloat16" : "float32");
    return n;
  }

  /** jina-clip-v2's config: the text tower's XLM-R arguments under {@code text_config}. */
  static ObjectNode jinaConfigJson(JinaDims d) {
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("JinaCLIPModel");
    n.put("model_type", "jina_clip");
    n.put("add_projections", false);
    n.put("projection_dim", d.width());
    ObjectNode text = n.putObject("text_config");
    text.put("embed_dim", d.width());
    text.put("pooler_type", "mean_pooler");
    text.putNull("proj_type");
    text.put("default_lora_task", "retrieval.query");
    ObjectNode k = text.putObject("hf_model_config_kwargs");
    k.put("vocab_size", d.vocabSize());
    k.put("hidden_size", d.width());
    k.put("num_hidden_layers", d.layers());
    k.put("num_attention_heads", d.heads());
    k.put("intermediate_size", d.intermediateSize());
    k.put("rotary_emb_base", 20_000.0);
    k.put("layer_norm_eps", 1e-5);
    k.put("type_vocab_size", 1);
    k.put("pad_token_id", 1);
    k.put("bos_token_id", 0);
    k.put("eos_token_id", 2);
    k.put("hidden_act", "gelu");
    k.put("position_embedding_type", "rotary");
    k.put("model_type", "xlm-roberta");
    n.putNull("vision_config");
    return n;
  }
}
