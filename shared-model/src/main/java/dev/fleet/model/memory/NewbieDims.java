package dev.fleet.model.memory;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * NewBie-image's {@link ModelDims}: the Next-DiT, its two text encoders (Gemma 3 for the caption
 * features, Jina CLIP v2's text tower for the pooled vector) and FLUX's autoencoder. A {@code
 * NewbieDims} that exists fits together: the transformer reads what the encoders produce and what
 * the autoencoder's latents hold.
 *
 * <p>The planner sees the Next-DiT through {@link #dit()}: its streamable blocks (noise refiner and
 * joint blocks, all the same size) as single blocks and no double blocks, which is all the planner
 * and {@link DitResidency} read of it; every byte and FLOP comes from {@link NewbieMemoryModel}.
 *
 * @param name a preset's name or a model directory's
 */
public record NewbieDims(
    String name, NextDitDims nextDit, GemmaDims gemma, JinaDims jina, AutoencoderDims autoencoder)
    implements ModelDims {

  /** The autoencoder FLUX.1 ships, which NewBie decodes with (scale 0.3611, shift 0.1159). */
  private static final AutoencoderDims FLUX_AE =
      new AutoencoderDims(3, 128, 3, List.of(1, 2, 4, 4), 2, 16);

  /**
   * NewBie-image-Exp0.1 (≈ 3.5 B): NewBie's {@code NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP},
   * Gemma-3-4B-it's text model at NewBie's 512-token truncation, Jina CLIP v2's text tower at its
   * 2048-token truncation, FLUX.1's autoencoder.
   */
  public static final NewbieDims NEWBIE =
      new NewbieDims(
          "newbie",
          new NextDitDims(2, 16, 2304, 36, 2, 24, 8, 9216, 2560, 1024, List.of(32, 32, 32)),
          new GemmaDims(262_208, 2560, 34, 8, 4, 256, 10_240, 512),
          new JinaDims(250_002, 1024, 24, 16, 4096, 2048),
          FLUX_AE);

  /**
   * The reference fixture {@code gpu-worker/src/test/resources/fixtures/newbie-tiny}: its config
   * files, the encoders at NewBie's truncation lengths, flux-tiny's autoencoder.
   */
  public static final NewbieDims TINY =
      new NewbieDims(
          "newbie-tiny",
          new NextDitDims(2, 16, 32, 2, 2, 4, 2, 128, 48, 32, List.of(2, 2, 4)),
          new GemmaDims(256, 48, 5, 4, 2, 16, 96, 512),
          new JinaDims(249, 32, 2, 2, 64, 2048),
          new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 16));

  private static final Map<String, NewbieDims> PRESETS =
      Stream.of(NEWBIE, TINY).collect(Collectors.toUnmodifiableMap(NewbieDims::name, d -> d));

  public NewbieDims {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("model dimensions need a name");
    }
    Objects.requireNonNull(nextDit, "nextDit");
    Objects.requireNonNull(gemma, "gemma");
    Objects.requireNonNull(jina, "jina");
    Objects.requireNonNull(autoencoder, "autoencoder");
    if (nextDit.capFeatDim() != gemma.hiddenSize()) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's cap_feat_dim "
              + nextDit.capFeatDim()
              + " must equal Gemma's hidden_size "
              + gemma.hiddenSize());
    }
    if (nextDit.clipTextDim() != jina.width()) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's clip_text_dim "
              + nextDit.clipTextDim()
              + " must equal Jina's hidden_size "
              + jina.width());
    }
    if (nextDit.inChannels() != autoencoder.zChannels()) {
      throw new IllegalArgumentException(
          name
              + ": the transformer's in_channels "
              + nextDit.inChannels()
              + " must equal the autoencoder's z_channels "
              + autoencoder.zChannels());
    }
  }

  /** {@code newbie} or {@code newbie-tiny}. */
  public static Optional<NewbieDims> preset(String name) {
    return Optional.ofNullable(PRESETS.get(name));
  }

  /** The preset names, sorted. */
  public static List<String> presetNames() {
    return PRESETS.keySet().stream().sorted().toList();
  }

  /**
   * The Next-DiT as the planner counts blocks: no double blocks, its {@link
   * NextDitDims#streamableBlocks} as single blocks (widths as NewBie's; FLUX's parameter formulas
   * of {@link DitDims} do not apply to it and nothing here uses them).
   */
  @Override
  public DitDims dit() {
    NextDitDims d = nextDit;
    return new DitDims(
        d.patchDim(),
        d.patchDim(),
        d.clipTextDim(),
        d.capFeatDim(),
        d.dim(),
        (double) d.ffnDim() / d.dim(),
        d.heads(),
        0,
        d.streamableBlocks(),
        false,
        false);
  }

  /** Pixels per token side: the autoencoder's downscale times the patch (16 for NewBie). */
  @Override
  public int pixelsPerToken() {
    return autoencoder.downscale() * nextDit.patchSize();
  }

  @Override
  public NewbieMemoryModel memoryModel(Workload workload, EngineProfile engine) {
    return new NewbieMemoryModel(this, workload, engine);
  }

  /** Parameters of all four components, as the engine loads them. */
  public long params() {
    return nextDit.params() + gemma.params() + jina.params() + autoencoder.params();
  }
}
