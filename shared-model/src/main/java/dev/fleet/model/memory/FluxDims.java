package dev.fleet.model.memory;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * FLUX's {@link ModelDims}: every dimension of a FLUX model that its memory depends on, the
 * transformer, both text encoders and the autoencoder, and how many text tokens the pipeline feeds
 * the transformer. A {@code FluxDims} that exists fits together (the transformer reads what the
 * encoders produce and what the autoencoder's latents pack into).
 *
 * <p>The presets are defined here and only here: the engine's {@code ModelShape} presets are these
 * dimensions plus what only the engine needs (RoPE split, epsilons, latent scale and shift ...).
 * Their parameter counts are the published ones.
 *
 * @param name a preset's name or a model directory's
 * @param textTokens T5 tokens the pipeline encodes and the transformer attends to: BFL's {@code
 *     max_length} (see {@link #defaultTextTokens}) or what the model's T5 tokenizer carries
 */
public record FluxDims(
    String name, DitDims dit, T5Dims t5, int textTokens, ClipDims clip, AutoencoderDims autoencoder)
    implements ModelDims {

  /** Latent cells per token side: FLUX packs 2x2 latent cells into one token. */
  public static final int PATCH = 2;

  /** FLUX.1 [dev]: 12B guidance-distilled transformer, T5-XXL at 512 tokens, CLIP-L, the ae. */
  public static final FluxDims FLUX_DEV = flux1("flux-dev", true);

  /** FLUX.1 [schnell]: dev without the guidance embedder, T5 at 256 tokens. */
  public static final FluxDims FLUX_SCHNELL = flux1("flux-schnell", false);

  /**
   * The bundled random-weight fixture {@code gpu-worker/models/flux-tiny}: its config.json files,
   * T5 at the 32 tokens its tokenizer carries.
   */
  public static final FluxDims TINY =
      new FluxDims(
          "tiny",
          new DitDims(64, 64, 32, 64, 64, 4.0, 2, 2, 2, true, true),
          new T5Dims(170, 64, 16, 128, 4, 2, 32),
          32,
          new ClipDims(320, 32, 2, 2, 64, 77),
          new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 16));

  /**
   * The bundled trained model {@code gpu-worker/models/flux-shapes} (schnell-style, no guidance
   * embedder): its config.json files, both text encoders at the 40 tokens their tokenizers carry.
   */
  public static final FluxDims SHAPES =
      new FluxDims(
          "shapes",
          new DitDims(64, 64, 64, 128, 192, 4.0, 3, 2, 4, true, false),
          new T5Dims(69, 128, 32, 384, 4, 2, 32),
          40,
          new ClipDims(69, 64, 2, 2, 256, 40),
          new AutoencoderDims(3, 32, 3, List.of(1, 2, 2, 2), 1, 16));

  private static final Map<String, FluxDims> PRESETS =
      Stream.of(FLUX_DEV, FLUX_SCHNELL, TINY, SHAPES)
          .collect(Collectors.toUnmodifiableMap(FluxDims::name, d -> d));

  public FluxDims {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("model dimensions need a name");
    }
    Objects.requireNonNull(dit, "dit");
    Objects.requireNonNull(t5, "t5");
    Objects.requireNonNull(clip, "clip");
    Objects.requireNonNull(autoencoder, "autoencoder");
    Dims.positive(name, "the text token count", textTokens);
    if (dit.contextInDim() != t5.dModel()) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's context_in_dim "
              + dit.contextInDim()
              + " must equal T5's d_model "
              + t5.dModel());
    }
    if (dit.vecInDim() != clip.hiddenSize()) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's vec_in_dim "
              + dit.vecInDim()
              + " must equal CLIP's hidden_size "
              + clip.hiddenSize());
    }
    int packed = PATCH * PATCH * autoencoder.zChannels();
    if (dit.inChannels() != packed) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's in_channels "
              + dit.inChannels()
              + " must be "
              + PATCH * PATCH
              + " * z_channels = "
              + packed);
    }
  }

  private static FluxDims flux1(String name, boolean guidance) {
    DitDims dit = new DitDims(64, 64, 768, 4096, 3072, 4.0, 24, 19, 38, true, guidance);
    return new FluxDims(
        name,
        dit,
        new T5Dims(32128, 4096, 64, 10240, 64, 24, 32),
        defaultTextTokens(dit),
        new ClipDims(49408, 768, 12, 12, 3072, 77),
        new AutoencoderDims(3, 128, 3, List.of(1, 2, 4, 4), 2, 16));
  }

  /**
   * The T5 length of the FLUX pipeline when the tokenizer names none, BFL's {@code max_length}: 512
   * tokens for a guidance-distilled transformer (FLUX.1-dev), 256 without (schnell), whose shorter
   * prompts its few steps were trained with.
   */
  public static int defaultTextTokens(DitDims dit) {
    return dit.guidanceEmbed() ? 512 : 256;
  }

  /** {@code flux-dev}, {@code flux-schnell}, {@code tiny} or {@code shapes}. */
  public static Optional<FluxDims> preset(String name) {
    return Optional.ofNullable(PRESETS.get(name));
  }

  /** The preset names, sorted. */
  public static List<String> presetNames() {
    return PRESETS.keySet().stream().sorted().toList();
  }

  /** Pixels per token side: the autoencoder's downscale times the 2x2 packing (16 for FLUX.1). */
  @Override
  public int pixelsPerToken() {
    return autoencoder.downscale() * PATCH;
  }

  /** FLUX's memory formulas for one job on this model. */
  @Override
  public FluxMemoryModel memoryModel(Workload workload, EngineProfile engine) {
    return new FluxMemoryModel(this, workload, engine);
  }

  /** Parameters of all four components. */
  public long params() {
    return dit.params() + t5.params() + clip.params() + autoencoder.params();
  }
}
