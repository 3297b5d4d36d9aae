package dev.fleet.engine.family;

import dev.fleet.engine.model.ModelLocation;
import java.util.List;
import java.util.Optional;

/**
 * The model families the engine knows, and which one a model directory or a preset name belongs to.
 * A new family is registered here, in {@link #ALL}, after the families it must be tried before;
 * {@link #DEFAULT} (FLUX) comes last, and reads any directory no other family claims, so that its
 * loader names what does not fit.
 */
public final class ModelFamilies {
  /** FLUX: the family a model directory is read as unless another recognises it. */
  public static final ModelFamily DEFAULT = new FluxFamily();

  /** NewBie-image: a Next-DiT with Gemma 3 and Jina CLIP, in NewBie's directory layout. */
  public static final ModelFamily NEWBIE = new NewbieFamily();

  /** Every family, tried in this order; the default last. */
  private static final List<ModelFamily> ALL = List.of(NEWBIE, DEFAULT);

  private ModelFamilies() {}

  /** Every family, in the order they are tried. */
  public static List<ModelFamily> all() {
    return ALL;
  }

  /**
   * The family of a model directory: the first family other than the default that recognises it,
   * else the default.
   */
  public static ModelFamily of(ModelLocation model) {
    for (ModelFamily f : ALL) {
      if (f != DEFAULT && f.recognises(model)) {
        return f;
      }
    }
    return DEFAULT;
  }

  /** The family with the preset {@code name}, if any. */
  public static Optional<ModelFamily> withPreset(String name) {
    return ALL.stream().filter(f -> f.preset(name).isPresent()).findFirst();
  }

  /** Every family's preset names, sorted. */
  public static List<String> presetNames() {
    return ALL.stream().flatMap(f -> f.presetNames().stream()).sorted().toList();
  }
}
