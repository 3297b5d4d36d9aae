package dev.fleet.engine.checkpoint;

import dev.fleet.engine.flux.DiffusersFluxView;
import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a FLUX transformer checkpoint whatever form it was saved in and presents it under BFL's key
 * names, the form every loader of the engine reads: the {@link DitKeyLayout} decides the names (a
 * prefix stripped, diffusers' names mapped), {@link ScaledFloat8Store} the encoding (plain or
 * scaled float8, quantization tensors hidden, anything not understood refused).
 */
public final class DitCheckpoint {
  private static final Logger LOG = LoggerFactory.getLogger(DitCheckpoint.class);

  private DitCheckpoint() {}

  /**
   * The transformer in a safetensors file, shard index or directory, or a GGUF file, in BFL's
   * names. Closing the result closes the file.
   *
   * @throws UnrecognisedCheckpointException when the file holds no FLUX transformer the engine
   *     knows
   * @throws dev.fleet.engine.safetensors.SafetensorsException when it is in no container the engine
   *     reads (pickles and zip archives are named, as are GGUF quantizations other than Q8_0) or a
   *     tensor's encoding is not understood
   */
  public static TensorStore open(Path path) {
    TensorStore file = CheckpointFile.open(path);
    try {
      return view(file);
    } catch (RuntimeException e) {
      file.close();
      throw e;
    }
  }

  /** The transformer in an open store, in BFL's names; closing the view closes {@code file}. */
  public static TensorStore view(TensorStore file) {
    DitKeyLayout layout = DitKeyLayout.detect(file);
    TensorStore named =
        layout.prefix().isEmpty() ? file : new PrefixedStore(file, layout.prefix(), true);
    ScaledFloat8Store encoded = ScaledFloat8Store.of(named, layout.prefix());
    if (layout != DitKeyLayout.BFL || encoded.isScaled() || encoded.quantizedLayers() > 0) {
      LOG.info(
          "{}: transformer in the {} layout{}",
          file.describe(),
          layout.description(),
          encoded.isScaled() || encoded.quantizedLayers() > 0
              ? ", ComfyUI scaled float8 ("
                  + encoded.scaledTensors()
                  + " scaled tensors, "
                  + encoded.quantizedLayers()
                  + " layers with a declared format)"
              : "");
    }
    return DiffusersFluxView.inBflLayout(encoded);
  }
}
