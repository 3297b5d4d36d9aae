package dev.fleet.engine.synthetic;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.FluxDims;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Every dimension of a FLUX model: the transformer's {@link FluxParams}, the autoencoder's {@link
 * AutoEncoderParams} and the two text encoders' configs. A shape that exists fits together: the
 * transformer reads what the encoders produce, and the pipeline can pack and decode its latents.
 * Parameter counts come from the same tensor layouts that {@link SyntheticModelWriter} writes, so a
 * count is exactly what a checkpoint of this shape holds.
 *
 * @param name what the shape is called (a preset's name, or any label)
 */
public record ModelShape(
    String name, FluxParams dit, AutoEncoderParams vae, ClipTextConfig clip, T5Config t5) {

  /**
   * Latent channels and pixels per latent cell that {@code FluxPipeline} assumes: it draws
   * 16-channel noise at 1/8 of the image size and packs it 2x2 into 64-feature tokens.
   */
  public static final int PIPELINE_LATENT_CHANNELS = 16;

  public static final int PIPELINE_DOWNSCALE = 8;

  private static final float FLUX1_VAE_SCALE = AutoEncoderParams.FLUX1_SCALE_FACTOR;
  private static final float FLUX1_VAE_SHIFT = AutoEncoderParams.FLUX1_SHIFT_FACTOR;

  /** FLUX.1 [dev]: the guidance-distilled 12B transformer with T5-XXL, CLIP-L and the FLUX ae. */
  public static final ModelShape FLUX_DEV = flux1("flux-dev", true);

  /** FLUX.1 [schnell]: as dev without the guidance embedder. */
  public static final ModelShape FLUX_SCHNELL = flux1("flux-schnell", false);

  /** The bundled fixture {@code models/flux-tiny}; its vocabularies are the fixture tokenizers'. */
  public static final ModelShape TINY =
      new ModelShape(
          "tiny",
          new FluxParams(64, 64, 32, 64, 64, 4.0, 2, 2, 2, List.of(8, 12, 12), 10_000, true, true),
          new AutoEncoderParams(
              64, 3, 32, 3, List.of(1, 1, 2, 2), 1, 16, FLUX1_VAE_SCALE, FLUX1_VAE_SHIFT),
          new ClipTextConfig(320, 32, 2, 2, 64, 77, 1e-5f, "quick_gelu", 2),
          new T5Config(170, 64, 16, 128, 4, 2, 32, 128, 1e-6f, T5Config.GATED_GELU));

  /**
   * The bundled trained model {@code models/flux-shapes} (schnell-style); its autoencoder's latent
   * scale and shift are the ones measured after its training.
   */
  public static final ModelShape SHAPES =
      new ModelShape(
          "shapes",
          new FluxParams(
              64, 64, 64, 128, 192, 4.0, 3, 2, 4, List.of(16, 24, 24), 10_000, true, false),
          new AutoEncoderParams(
              128, 3, 32, 3, List.of(1, 2, 2, 2), 1, 16, 1.345079315524831f, -0.03995814174413681f),
          new ClipTextConfig(69, 64, 2, 2, 256, 40, 1e-5f, "quick_gelu", 68),
          new T5Config(69, 128, 32, 384, 4, 2, 32, 128, 1e-6f, T5Config.GATED_GELU));

  private static final Map<String, ModelShape> PRESETS =
      Stream.of(FLUX_DEV, FLUX_SCHNELL, TINY, SHAPES)
          .collect(Collectors.toUnmodifiableMap(ModelShape::name, s -> s));

  public ModelShape {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a model shape needs a name");
    }
    if (dit == null || vae == null || clip == null || t5 == null) {
      throw new IllegalArgumentException(name + ": every component's parameters are required");
    }
    if (vae.zChannels() != PIPELINE_LATENT_CHANNELS || vae.downscale() != PIPELINE_DOWNSCALE) {
      throw new IllegalArgumentException(
          name
              + ": the pipeline decodes "
              + PIPELINE_LATENT_CHANNELS
              + " latent channels at 1/"
              + PIPELINE_DOWNSCALE
              + " of the image size; the autoencoder has z_channels "
              + vae.zChannels()
              + " and "
              + vae.levels()
              + " levels in ch_mult "
              + vae.chMult()
              + " (1/"
              + vae.downscale()
              + ")");
    }
    // How the parts fit together (T5 width = context_in_dim, CLIP width = vec_in_dim, ...) is
    // checked once, by the memory planner's FluxDims, which every shape is also read as.
    ModelDimsReader.of(name, dit, t5, dit.defaultT5Length(), clip, vae);
    int packed = 4 * vae.zChannels(); // 2x2 patches of latent cells
    if (dit.inChannels() != packed || dit.outChannels() != packed) {
      throw new IllegalArgumentException(
          name
              + ": in_channels and out_channels must be 4 * z_channels = "
              + packed
              + " (2x2 packing), got "
              + dit.inChannels()
              + " and "
              + dit.outChannels());
    }
  }

  private static ModelShape flux1(String name, boolean guidance) {
    return new ModelShape(
        name,
        new FluxParams(
            64, 64, 768, 4096, 3072, 4.0, 24, 19, 38, List.of(16, 56, 56), 10_000, true, guidance),
        new AutoEncoderParams(
            AutoEncoderParams.FLUX1_RESOLUTION,
            3,
            128,
            3,
            List.of(1, 2, 4, 4),
            2,
            16,
            FLUX1_VAE_SCALE,
            FLUX1_VAE_SHIFT),
        new ClipTextConfig(49408, 768, 12, 12, 3072, 77, 1e-5f, "quick_gelu", 2),
        new T5Config(32128, 4096, 64, 10240, 64, 24, 32, 128, 1e-6f, T5Config.GATED_GELU));
  }

  /**
   * A preset by name: {@code flux-dev}, {@code flux-schnell} or {@code tiny}.
   *
   * @throws IllegalArgumentException naming the presets when there is none of that name
   */
  public static ModelShape preset(String name) {
    ModelShape s = PRESETS.get(name);
    if (s == null) {
      throw new IllegalArgumentException(
          "no model shape preset '" + name + "'; known: " + presetNames());
    }
    return s;
  }

  /** The preset names, sorted. */
  public static List<String> presetNames() {
    return PRESETS.keySet().stream().sorted().toList();
  }

  /** The same shape under another name. */
  public ModelShape named(String newName) {
    return new ModelShape(newName, dit, vae, clip, t5);
  }

  /** Every tensor a checkpoint of the component holds (CLIP without its {@code text_model.}). */
  public List<TensorSpec> layout(Component component) {
    return switch (component) {
      case DIT -> DitLayout.of(dit);
      case T5 -> T5Layout.of(t5);
      case CLIP -> ClipLayout.of(clip);
      case VAE -> VaeLayout.of(vae);
    };
  }

  /** Parameters of one component. */
  public long parameterCount(Component component) {
    return count(layout(component));
  }

  /** Parameters of the whole model. */
  public long parameterCount() {
    long n = 0;
    for (Component c : Component.values()) {
      n += parameterCount(c);
    }
    return n;
  }

  /** Parameters of one double-stream block (all blocks of a kind are the same size). */
  public long doubleBlockParameterCount() {
    return count(DitLayout.doubleBlock(dit, 0));
  }

  /** Parameters of one single-stream block. */
  public long singleBlockParameterCount() {
    return count(DitLayout.singleBlock(dit, 0));
  }

  private static long count(List<TensorSpec> tensors) {
    long n = 0;
    for (TensorSpec t : tensors) {
      n += t.elements();
    }
    return n;
  }

  /** This shape as the memory planner sees it, T5 at {@code t5Length} tokens. */
  public FluxDims dims(int t5Length) {
    return ModelDimsReader.of(name, dit, t5, t5Length, clip, vae);
  }
}
