package dev.fleet.model.memory;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A model as the memory planner sees it, whatever its family: its name, its denoiser's blocks (what
 * may stay resident or stream) and the memory formulas of its family for one job. FLUX's are {@link
 * FluxDims} with {@link FluxMemoryModel}, NewBie-image's {@link NewbieDims} with {@link
 * NewbieMemoryModel}; a family brings a record of its own dimensions and its own {@link
 * MemoryModel}, and lists its presets in {@link #presetNames}.
 */
public interface ModelDims {
  /** A preset's name or a model directory's. */
  String name();

  /** The denoiser's blocks. */
  DitDims dit();

  /** Pixels per token side: the autoencoder's downscale times the transformer's patch. */
  int pixelsPerToken();

  /** Image tokens the transformer sees for a {@code width x height} image. */
  default long imageTokens(int width, int height) {
    return (long) (width / pixelsPerToken()) * (height / pixelsPerToken());
  }

  /**
   * Fails, naming the model and the grid, unless the workload's image is a whole number of tokens
   * on each side (what the transformer's patching needs).
   */
  default void requireTokenGrid(Workload workload) {
    int px = pixelsPerToken();
    if (workload.width() % px != 0 || workload.height() % px != 0) {
      throw new IllegalArgumentException(
          name()
              + " needs width and height in multiples of "
              + px
              + ", got "
              + workload.width()
              + "x"
              + workload.height());
    }
  }

  /** The family's memory formulas for one job on this model. */
  MemoryModel memoryModel(Workload workload, EngineProfile engine);

  /** The preset of that name, of any family ({@code flux-dev}, {@code tiny} ...). */
  static Optional<ModelDims> preset(String name) {
    return FluxDims.preset(name)
        .map(ModelDims.class::cast)
        .or(() -> NewbieDims.preset(name).map(ModelDims.class::cast));
  }

  /** Every family's preset names, sorted. */
  static List<String> presetNames() {
    return Stream.of(FluxDims.presetNames(), NewbieDims.presetNames())
        .flatMap(List::stream)
        .sorted()
        .toList();
  }
}
