package dev.fleet.engine.vae;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.AutoencoderDims;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad checkpoints, configs and inputs fail with messages that name the problem. */
class VaeErrorsTest {
  @TempDir Path tmp;

  @Test
  void missingTensorIsNamed() throws IOException {
    String dropped = "decoder.up.1.block.0.nin_shortcut.weight";
    Path file = copyAe(name -> name.equals(dropped) ? null : name, null);
    Exception e =
        assertThrows(SafetensorsException.class, () -> VaeLoader.load(file, ComputeTarget.cpu()));
    assertTrue(e.getMessage().contains(dropped), e.getMessage());
    assertTrue(e.getMessage().contains("missing"), e.getMessage());
  }

  @Test
  void missingTensorInTheDiffusersLayoutIsNamed() throws IOException {
    Path file = tmp.resolve("vae/diffusion_pytorch_model.safetensors");
    VaeLayoutTest.writeDiffusersLayout(VaeLayoutTest.AE, file);
    Path pruned = tmp.resolve("pruned.safetensors");
    rewrite(
        file,
        pruned,
        n -> n.equals("decoder.up_blocks.2.resnets.0.conv_shortcut.bias") ? null : n,
        null);
    try (TensorStore store = TensorStore.open(pruned)) {
      Exception e =
          assertThrows(
              SafetensorsException.class,
              () -> AutoEncoder.load(store, VaeLayoutTest.TINY, ComputeTarget.cpu()));
      assertTrue(e.getMessage().contains("decoder.up.1.block.0.nin_shortcut.bias"), e.getMessage());
      assertTrue(e.getMessage().contains("diffusers layout"), e.getMessage());
    }
  }

  @Test
  void wrongShapeInTheFileIsNamed() throws IOException {
    String reshaped = "decoder.mid.attn_1.q.weight";
    Path file = copyAe(UnaryOperator.identity(), reshaped);
    Exception e =
        assertThrows(SafetensorsException.class, () -> VaeLoader.load(file, ComputeTarget.cpu()));
    assertTrue(e.getMessage().contains(reshaped), e.getMessage());
    assertTrue(e.getMessage().contains("wrong shape [64, 64]"), e.getMessage());
  }

  @Test
  void configThatDisagreesWithTheShapesNamesTheFirstMismatch() {
    AutoEncoderParams wrongZ =
        new AutoEncoderParams(
            new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 8), 64, 0.3611f, 0.1159f);
    try (TensorStore store = TensorStore.open(VaeLayoutTest.AE)) {
      Exception e =
          assertThrows(
              SafetensorsException.class,
              () -> AutoEncoder.load(store, wrongZ, ComputeTarget.cpu()));
      assertTrue(e.getMessage().contains("encoder.conv_out.weight"), e.getMessage());
      assertTrue(e.getMessage().contains("expected [16, 64, 3, 3]"), e.getMessage());
    }
  }

  @Test
  void paramsNameTheirBadValues() {
    assertMessage(
        "ch = 48",
        () ->
            new AutoEncoderParams(
                new AutoencoderDims(3, 48, 3, List.of(1, 2), 2, 16), 256, 0.3611f, 0.1159f));
    assertMessage(
        "ch_mult",
        () ->
            new AutoEncoderParams(
                new AutoencoderDims(3, 32, 3, List.of(), 2, 16), 256, 0.3611f, 0.1159f));
    assertMessage(
        "ch_mult",
        () ->
            new AutoEncoderParams(
                new AutoencoderDims(3, 32, 3, List.of(1, 0), 2, 16), 256, 0.3611f, 0f));
    assertMessage(
        "num_res_blocks",
        () ->
            new AutoEncoderParams(
                new AutoencoderDims(3, 32, 3, List.of(1), 0, 16), 256, 0.3611f, 0.1159f));
    assertMessage(
        "scale_factor",
        () ->
            new AutoEncoderParams(
                new AutoencoderDims(3, 32, 3, List.of(1), 1, 16), 256, 0f, 0.1159f));
  }

  @Test
  void configErrorsNameTheFileAndKey() throws IOException {
    Path lacking = tmp.resolve("config.json");
    Files.writeString(lacking, "{\"ch\": 32, \"ch_mult\": [1, 2], \"resolution\": 64}");
    assertMessage("lacks 'in_channels'", () -> AutoEncoderParams.fromConfig(lacking));
    Path other = tmp.resolve("other.json");
    Files.writeString(other, "{\"hidden_size\": 64}");
    assertMessage("not an autoencoder config", () -> AutoEncoderParams.fromConfig(other));
    Path quant = tmp.resolve("quant.json");
    Files.writeString(
        quant,
        "{\"block_out_channels\": [32], \"use_quant_conv\": true, \"in_channels\": 3,"
            + " \"out_channels\": 3, \"latent_channels\": 4, \"layers_per_block\": 1}");
    assertMessage("use_quant_conv", () -> AutoEncoderParams.fromConfig(quant));
  }

  @Test
  void stableDiffusionVaeIsRefused() throws IOException {
    Path file = tmp.resolve("sd.safetensors");
    new SafetensorsWriter()
        .addFloats("encoder.down_blocks.0.resnets.0.norm1.weight", new long[] {1}, new float[] {1})
        .addFloats("quant_conv.weight", new long[] {1}, new float[] {1})
        .write(file);
    try (TensorStore store = TensorStore.open(file)) {
      assertMessage("quant_conv", () -> DiffusersVaeStore.asBflLayout(store));
    }
  }

  @Test
  void inputsOfTheWrongShapeAreRefused() {
    try (NDManager m = NDManager.newBaseManager();
        AutoEncoder ae = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu())) {
      assertMessage("z_channels = 16", () -> ae.decode(m.zeros(new Shape(1, 4, 8, 8))));
      assertMessage("in_channels = 3", () -> ae.encode(m.zeros(new Shape(1, 4, 64, 64))));
      assertMessage("got (3, 64, 64)", () -> ae.encode(m.zeros(new Shape(3, 64, 64))));
    }
  }

  @Test
  void missingAutoencoderIsExplained() {
    assertMessage(
        "looked for vae/*.safetensors and ae.safetensors", () -> VaeLoader.findCheckpoint(tmp));
    assertMessage("no such model directory", () -> VaeLoader.findCheckpoint(tmp.resolve("absent")));
  }

  private static void assertMessage(
      String fragment, org.junit.jupiter.api.function.Executable call) {
    Exception e = assertThrows(RuntimeException.class, call);
    assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' not in: " + e.getMessage());
  }

  /** The fixture's ae.safetensors, renamed (null drops) and with one tensor flattened to 2-D. */
  private Path copyAe(UnaryOperator<String> rename, String flatten) throws IOException {
    Path out = tmp.resolve("ae.safetensors");
    rewrite(VaeLayoutTest.AE, out, rename, flatten);
    return out;
  }

  private static void rewrite(Path in, Path out, UnaryOperator<String> rename, String flatten)
      throws IOException {
    SafetensorsWriter writer = new SafetensorsWriter();
    try (TensorStore store = TensorStore.open(in)) {
      for (String name : store.names()) {
        String renamed = rename.apply(name);
        if (renamed == null) {
          continue;
        }
        TensorEntry e = store.entry(name);
        long[] shape = e.shape();
        if (name.equals(flatten)) {
          shape = new long[] {shape[0], e.elements() / shape[0]};
        }
        ByteBuffer bytes = store.bytes(name);
        byte[] data = new byte[bytes.remaining()];
        bytes.get(data);
        writer.add(renamed, e.dtype(), shape, data);
      }
    }
    writer.write(out);
  }
}
