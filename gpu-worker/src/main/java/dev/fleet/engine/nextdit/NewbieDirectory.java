package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.vae.VaeLoader;
import dev.fleet.model.memory.GemmaDims;
import dev.fleet.model.memory.JinaDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.StorageType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Where the parts of a NewBie-image model live, in the layout of NewBie's diffusers-style
 * repository (NewBie-AI/NewBie-image-Exp0.1), of diffusers' own NewBie conversion and of the
 * newbie-tiny fixture: {@code transformer/} (the DiT in any {@link NextDitKeyLayout}, one file or
 * shards with their {@code *.safetensors.index.json}, with its {@code config.json}), {@code
 * text_encoder/} and {@code tokenizer/} (Gemma 3, any of {@link Gemma3TextEncoder}'s key prefixes),
 * {@code clip_model/} and {@code clip_tokenizer/} (Jina CLIP v2; diffusers' conversion names them
 * {@code text_encoder_2/} and {@code tokenizer_2/}), and the autoencoder: {@code vae/*.safetensors}
 * (BFL or diffusers names) or {@code ae.safetensors}, or a {@code vae/SOURCE.json} naming a copy
 * kept elsewhere in the same tree with its sha256 (the fixture shares flux-tiny's). {@code
 * model_index.json} and {@code scheduler/} are not read (the sampler is NewBie's). Resolving checks
 * that every part exists and names what is missing.
 *
 * @param transformer the DiT's checkpoint (a file, or a directory of shards)
 * @param vae the autoencoder's checkpoint
 * @param vaeConfig its {@code config.json}, or null to infer it from shapes (FLUX.1's scale and
 *     shift, which are NewBie's)
 */
public record NewbieDirectory(
    Path root,
    Path transformer,
    Path textEncoder,
    Path tokenizer,
    Path clipModel,
    Path clipTokenizer,
    Path vae,
    Path vaeConfig) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Jina's model folder: NewBie's name, then diffusers' conversion's. */
  private static final List<String> JINA_MODEL = List.of("clip_model", "text_encoder_2");

  /** Jina's tokenizer folder: NewBie's name, then diffusers' conversion's. */
  private static final List<String> JINA_TOKENIZER = List.of("clip_tokenizer", "tokenizer_2");

  /** The model's name: its directory's name. */
  public String name() {
    return ModelLocation.of(root).name();
  }

  /**
   * Whether {@code root} holds a NewBie model: Gemma's folder and Jina's beside a readable
   * transformer checkpoint. With NewBie's own {@code clip_model/} the folder says so whatever the
   * DiT's keys, so that a DiT in no {@link NextDitKeyLayout} is refused naming the layouts tried
   * where it is read; with diffusers' {@code text_encoder_2/} (FLUX's T5 folder too) the DiT must
   * be in one of them. Reads headers only; false for any other layout.
   */
  public static boolean recognises(Path root, String dit) {
    if (!Files.isDirectory(root.resolve("text_encoder"))
        || JINA_MODEL.stream().noneMatch(n -> Files.isDirectory(root.resolve(n)))) {
      return false;
    }
    try (TensorStore store = TensorStore.open(transformerOf(root, dit))) {
      return Files.isDirectory(root.resolve(JINA_MODEL.get(0)))
          || NextDitKeyLayout.of(store) != null;
    } catch (RuntimeException e) {
      return false; // no readable checkpoint: not this family's directory
    }
  }

  /**
   * @param dit a file inside {@code transformer/}, an absolute path, or null for the one there
   * @throws IllegalArgumentException naming the first part that is missing
   */
  public static NewbieDirectory resolve(Path root, String dit) {
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException(
          "model directory " + root + " does not exist or is not a directory");
    }
    Path transformer = transformerOf(root, dit);
    Path vae = vaeOf(root);
    Path vaeConfig = root.resolve("vae").resolve("config.json");
    Path gemma = required(root, List.of("text_encoder"));
    Path jina = required(root, JINA_MODEL);
    return new NewbieDirectory(
        root,
        transformer,
        gemma,
        tokenizerOf(root, List.of("tokenizer"), gemma),
        jina,
        tokenizerOf(root, JINA_TOKENIZER, jina),
        vae,
        Files.isRegularFile(vaeConfig) ? vaeConfig : null);
  }

  /**
   * The transformer's config: {@code config.json} beside its checkpoint, the widths it may leave
   * out read from the checkpoint's header.
   */
  public NextDitParams transformerParams() {
    Path dir = Files.isDirectory(transformer) ? transformer : transformer.getParent();
    try (TensorStore store = TensorStore.open(transformer)) {
      return NextDitParams.read(dir, NextDitKeyLayout.inNewbieNames(store));
    }
  }

  /**
   * How the checkpoint stores the Next-DiT's block matrices, which is how the engine keeps them
   * unless a plan narrows them: {@link StorageType#FP8} when the first joint block's qkv matrix is
   * float8 (an fp8 checkpoint's blocks stay bytes on the device, widened per block), {@link
   * StorageType#FP16} otherwise (bf16 and f32 are widened or narrowed to the 16-bit compute dtype
   * when loaded). Reads the header only.
   */
  public StorageType blockStorage() {
    try (TensorStore store = TensorStore.open(transformer)) {
      TensorStore named = NextDitKeyLayout.inNewbieNames(store);
      String key = "layers.0.attention.qkv.weight";
      return named.contains(key) && named.entry(key).dtype().isFloat8()
          ? StorageType.FP8
          : StorageType.FP16;
    }
  }

  /** The autoencoder's parameters, from its config or its shapes (headers only). */
  public AutoEncoderParams vaeParams() {
    try (TensorStore store = TensorStore.open(vae)) {
      return AutoEncoderParams.infer(store, vaeConfig);
    }
  }

  /**
   * The planner's view of this model, from the configs the pipeline loads it with: the encoders at
   * the truncation lengths of NewBie's tokenizers (the longest prompts a job can bring).
   */
  public NewbieDims dims() {
    NextDitParams p = transformerParams();
    Gemma3Config g = Gemma3Config.read(textEncoder);
    JinaTextConfig j = JinaTextConfig.read(clipModel);
    AutoEncoderParams ae = vaeParams();
    return new NewbieDims(
        name(),
        p.dims(),
        new GemmaDims(
            g.vocabSize(),
            g.hiddenSize(),
            g.layers(),
            g.heads(),
            g.kvHeads(),
            g.headDim(),
            g.intermediateSize(),
            NewbieTokenizer.GEMMA_MAX_LENGTH),
        new JinaDims(
            j.vocabSize(),
            j.hiddenSize(),
            j.layers(),
            j.heads(),
            j.intermediateSize(),
            NewbieTokenizer.JINA_MAX_LENGTH),
        ae.dims());
  }

  private static Path transformerOf(Path root, String dit) {
    return ModelLocation.namedTransformer(root, dit)
        .orElseGet(() -> CheckpointPaths.in(ModelLocation.transformerDir(root)));
  }

  /**
   * The autoencoder's checkpoint: {@code vae/*.safetensors} or {@code ae.safetensors}, else the
   * file {@code vae/SOURCE.json} names.
   */
  private static Path vaeOf(Path root) {
    Path source = root.resolve("vae").resolve("SOURCE.json");
    try {
      return VaeLoader.findCheckpoint(root);
    } catch (IllegalArgumentException e) {
      if (!Files.isRegularFile(source)) {
        throw e;
      }
    }
    return fromSource(source, root);
  }

  /**
   * The copy {@code SOURCE.json} names ({@code file}, relative to a directory above the model, and
   * its {@code sha256}): the first directory up from the model where that file exists, checked
   * against the hash, so a different file of the same name is never decoded with.
   */
  static Path fromSource(Path source, Path root) {
    JsonNode n;
    try {
      n = JSON.readTree(source.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + source, e);
    }
    String file = n.path("file").asText("");
    String sha256 = n.path("sha256").asText("");
    if (file.isEmpty() || sha256.isEmpty()) {
      throw new IllegalArgumentException(source + " must name a file and its sha256");
    }
    for (Path dir = root.toAbsolutePath().normalize(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve(file);
      if (Files.isRegularFile(candidate)) {
        String actual = sha256(candidate);
        if (!actual.equalsIgnoreCase(sha256)) {
          throw new IllegalArgumentException(
              source + " names " + candidate + " with sha256 " + sha256 + ", but it has " + actual);
        }
        return candidate;
      }
    }
    throw new IllegalArgumentException(
        source + " names " + file + ", which no directory above " + root + " holds");
  }

  private static String sha256(Path file) {
    try (InputStream in =
        new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("no SHA-256 in this JVM", e);
    }
  }

  /**
   * A tokenizer's folder: the first of {@code names} in {@code root}, else the model's own folder
   * when it holds a {@code tokenizer.json} (NewBie's conversion to its diffusers-style folder saves
   * each tokenizer beside its model, and its {@code model_index.json} points there).
   */
  private static Path tokenizerOf(Path root, List<String> names, Path model) {
    for (String name : names) {
      if (Files.exists(root.resolve(name))) {
        return root.resolve(name);
      }
    }
    if (Files.isRegularFile(model.resolve("tokenizer.json"))) {
      return model;
    }
    throw new IllegalArgumentException(
        "NewBie model directory "
            + root
            + " has no "
            + String.join("/ or ", names)
            + "/, and "
            + model
            + " holds no tokenizer.json");
  }

  /** The first of {@code names} that exists in {@code root}. */
  private static Path required(Path root, List<String> names) {
    for (String name : names) {
      Path p = root.resolve(name);
      if (Files.exists(p)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "NewBie model directory " + root + " has no " + String.join("/ or ", names) + "/");
  }
}
