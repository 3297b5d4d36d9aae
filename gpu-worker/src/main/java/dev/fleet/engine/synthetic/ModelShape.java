package dev.fleet.engine.synthetic;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.AutoencoderDims;
import dev.fleet.model.memory.FluxDims;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Every hyperparameter of a FLUX model: the transformer's {@link FluxParams}, the autoencoder's
 * {@link AutoEncoderParams} and the two text encoders' configs. A shape that exists fits together:
 * the transformer reads what the encoders produce, and the pipeline can pack and decode its
 * latents. Parameter counts come from the same tensor layouts that {@link SyntheticModelWriter}
 * writes, so a count is exactly what a checkpoint of this shape holds.
 *
 * <p>The presets are the memory planner's {@link FluxDims} presets, which hold every dimension,
 * plus what only the engine needs: the RoPE split, the autoencoder's latent scale and shift and
 * CLIP's eos id. So each dimension is written once, where the planner and the engine both read it.
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

  /** FLUX.1 [dev]: the guidance-distilled 12B transformer with T5-XXL, CLIP-L and the FLUX ae. */
  public static final ModelShape FLUX_DEV = flux1(FluxDims.FLUX_DEV);

  /** FLUX.1 [schnell]: as dev without the guidance embedder. */
  public static final ModelShape FLUX_SCHNELL = flux1(FluxDims.FLUX_SCHNELL);

  /** The bundled fixture {@code models/flux-tiny}; its vocabularies are the fixture tokenizers'. */
  public static final ModelShape TINY =
      of(
          FluxDims.TINY,
          List.of(8, 12, 12),
          64,
          AutoEncoderParams.FLUX1_SCALE_FACTOR,
          AutoEncoderParams.FLUX1_SHIFT_FACTOR,
          ClipTextConfig.LEGACY_EOS_TOKEN_ID);

  /**
   * The bundled trained model {@code models/flux-shapes} (schnell-style); its autoencoder's latent
   * scale and shift are the ones measured after its training, its CLIP pools at its own eos id.
   */
  public static final ModelShape SHAPES =
      of(FluxDims.SHAPES, List.of(16, 24, 24), 128, 1.345079315524831f, -0.03995814174413681f, 68);

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
    AutoencoderDims ae = vae.dims();
    if (ae.zChannels() != PIPELINE_LATENT_CHANNELS || ae.downscale() != PIPELINE_DOWNSCALE) {
      throw new IllegalArgumentException(
          name
              + ": the pipeline decodes "
              + PIPELINE_LATENT_CHANNELS
              + " latent channels at 1/"
              + PIPELINE_DOWNSCALE
              + " of the image size; the autoencoder has z_channels "
              + ae.zChannels()
              + " and "
              + ae.levels()
              + " levels in ch_mult "
              + ae.chMult()
              + " (1/"
              + ae.downscale()
              + ")");
    }
    // How the parts fit together (T5 width = context_in_dim, CLIP width = vec_in_dim, ...) is
    // checked once, by the memory planner's FluxDims, which every shape is also read as.
    dims(name, dit, t5, FluxDims.defaultTextTokens(dit.dims()), clip, vae);
    int packed = 4 * ae.zChannels(); // 2x2 patches of latent cells
    if (dit.dims().inChannels() != packed || dit.dims().outChannels() != packed) {
      throw new IllegalArgumentException(
          name
              + ": in_channels and out_channels must be 4 * z_channels = "
              + packed
              + " (2x2 packing), got "
              + dit.dims().inChannels()
              + " and "
              + dit.dims().outChannels());
    }
  }

  /** A FLUX.1 preset: its dimensions with FLUX.1's RoPE, autoencoder and CLIP config. */
  private static ModelShape flux1(FluxDims d) {
    return of(
        d,
        FluxParams.FLUX1_AXES_DIM,
        AutoEncoderParams.FLUX1_RESOLUTION,
        AutoEncoderParams.FLUX1_SCALE_FACTOR,
        AutoEncoderParams.FLUX1_SHIFT_FACTOR,
        ClipTextConfig.LEGACY_EOS_TOKEN_ID);
  }

  /**
   * A preset: the planner's dimensions of it and what only the engine needs — the RoPE split (at
   * FLUX.1's base), the autoencoder's training resolution, latent scale and shift, and CLIP's eos
   * id; CLIP and T5 take transformers' defaults for the rest.
   */
  private static ModelShape of(
      FluxDims d,
      List<Integer> axesDim,
      int vaeResolution,
      float vaeScale,
      float vaeShift,
      long clipEosTokenId) {
    return new ModelShape(
        d.name(),
        new FluxParams(d.dit(), axesDim, FluxParams.FLUX1_THETA),
        new AutoEncoderParams(d.autoencoder(), vaeResolution, vaeScale, vaeShift),
        ClipTextConfig.of(d.clip(), clipEosTokenId),
        T5Config.v11(d.t5()));
  }

  /**
   * A preset by name: {@code flux-dev}, {@code flux-schnell}, {@code tiny} or {@code shapes}.
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
      case DIT -> DitLayout.of(dit.dims());
      case T5 -> T5Layout.of(t5.dims());
      case CLIP -> ClipLayout.of(clip.dims());
      case VAE -> VaeLayout.of(vae.dims());
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
    return count(DitLayout.doubleBlock(dit.dims(), 0));
  }

  /** Parameters of one single-stream block. */
  public long singleBlockParameterCount() {
    return count(DitLayout.singleBlock(dit.dims(), 0));
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
    return dims(name, dit, t5, t5Length, clip, vae);
  }

  private static FluxDims dims(
      String name,
      FluxParams dit,
      T5Config t5,
      int t5Length,
      ClipTextConfig clip,
      AutoEncoderParams vae) {
    return new FluxDims(name, dit.dims(), t5.dims(), t5Length, clip.dims(), vae.dims());
  }
}
