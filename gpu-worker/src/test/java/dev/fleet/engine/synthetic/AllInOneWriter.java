package dev.fleet.engine.synthetic;

import dev.fleet.engine.checkpoint.ComponentWeights;
import dev.fleet.engine.checkpoint.EmbeddedComponent;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Set;

/**
 * Writes a model's components into one ComfyUI all-in-one checkpoint: the transformer in a {@link
 * DitVariant} under {@code model.diffusion_model.}, and those of the autoencoder, CLIP and T5 that
 * are asked for under their {@link EmbeddedComponent} prefixes, their tensors as stored.
 */
public final class AllInOneWriter {
  private AllInOneWriter() {}

  /**
   * @param dit the transformer's spelling; its prefix must be ComfyUI's
   * @param components which components go into the file besides the transformer
   */
  public static void write(
      ModelDirectory source, DitVariant dit, Set<EmbeddedComponent> components, Path out)
      throws IOException {
    if (!dit.prefix().equals("model.diffusion_model.")) {
      throw new IllegalArgumentException(
          "an all-in-one file keeps its transformer under model.diffusion_model., "
              + dit
              + " does not");
    }
    SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
    try (TensorStore transformer = source.openTransformer()) {
      dit.addTo(writer, transformer);
    }
    for (EmbeddedComponent c : components) {
      ComponentWeights weights =
          switch (c) {
            case VAE -> source.vaeWeights();
            case CLIP -> source.clipWeights();
            case T5 -> source.t5Weights();
          };
      try (TensorStore store = weights.open()) {
        for (String name : store.names()) {
          TensorEntry e = store.entry(name);
          ByteBuffer b = store.bytes(name).duplicate();
          byte[] data = new byte[b.remaining()];
          b.get(data);
          writer.add(c.prefix() + name, e.dtype(), e.shape(), data);
        }
      }
    }
    writer.write(out);
  }
}
