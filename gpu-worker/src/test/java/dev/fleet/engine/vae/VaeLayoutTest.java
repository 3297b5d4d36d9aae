package dev.fleet.engine.vae;

import static dev.fleet.engine.vae.AutoEncoderParityTest.relErr;
import static dev.fleet.engine.vae.AutoEncoderParityTest.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.Fixtures;
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
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the autoencoder is found and the two key layouts it is read from. */
public class VaeLayoutTest {
  static final Path AE = Fixtures.MODEL.resolve("vae/ae.safetensors");

  /** flux-tiny's autoencoder config as diffusers' {@code AutoencoderKL} writes it. */
  public static final String TINY_DIFFUSERS_CONFIG =
      """
      {"_class_name": "AutoencoderKL", "block_out_channels": [32, 32, 64, 64],
       "in_channels": 3, "out_channels": 3, "latent_channels": 16, "layers_per_block": 1,
       "norm_num_groups": 32, "sample_size": 64, "scaling_factor": 0.3611,
       "shift_factor": 0.1159, "use_quant_conv": false, "use_post_quant_conv": false}
      """;

  static final Path CONFIG = Fixtures.MODEL.resolve("vae/config.json");

  /** The fixture's params as its config.json states them. */
  static final AutoEncoderParams TINY =
      new AutoEncoderParams(
          new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 16), 64, 0.3611f, 0.1159f);

  /** What the shapes alone say: the same, but a checkpoint does not record the resolution. */
  static final AutoEncoderParams TINY_FROM_SHAPES =
      new AutoEncoderParams(
          new AutoencoderDims(3, 32, 3, List.of(1, 1, 2, 2), 1, 16),
          AutoEncoderParams.FLUX1_RESOLUTION,
          0.3611f,
          0.1159f);

  @TempDir Path tmp;

  @Test
  void bflConfigBesideTheCheckpointIsRead() {
    assertEquals(TINY, AutoEncoderParams.fromConfig(CONFIG));
    try (TensorStore store = TensorStore.open(AE)) {
      assertEquals(TINY, AutoEncoderParams.infer(store, CONFIG));
    }
  }

  @Test
  void paramsInferredFromShapesMatchTheConfig() {
    try (TensorStore store = TensorStore.open(AE)) {
      assertEquals(TINY_FROM_SHAPES, AutoEncoderParams.infer(store, null));
    }
  }

  @Test
  void rootAeSafetensorsIsFoundAndItsShapesDescribeIt() throws IOException {
    Files.copy(AE, tmp.resolve("ae.safetensors"));
    // A model root's config.json describes the model, not its autoencoder: it must not be read.
    Files.writeString(tmp.resolve("config.json"), "{\"_class_name\": \"FluxPipeline\"}");
    assertEquals(tmp.resolve("ae.safetensors"), VaeLoader.findCheckpoint(tmp));
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder ae = VaeLoader.load(tmp, ComputeTarget.cpu())) {
      assertEquals(AutoEncoderParams.FLUX1_RESOLUTION, ae.params().resolution());
      NDArray decoded = ae.decode(tensor(expected, "vae.in.z", m));
      assertTrue(relErr(decoded, tensor(expected, "vae.out.decoded", m)) <= 1e-4);
    }
  }

  @Test
  void vaeDirectoryWinsOverRootFile() throws IOException {
    Files.createDirectories(tmp.resolve("vae"));
    Files.copy(AE, tmp.resolve("vae/ae.safetensors"));
    Files.copy(AE, tmp.resolve("ae.safetensors"));
    assertEquals(tmp.resolve("vae/ae.safetensors"), VaeLoader.findCheckpoint(tmp));
    assertEquals(AE, VaeLoader.findCheckpoint(AE));
  }

  @Test
  void diffusersLayoutGivesIdenticalOutputs() throws IOException {
    Path vae = tmp.resolve("vae");
    Path file = vae.resolve("diffusion_pytorch_model.safetensors");
    writeDiffusersLayout(AE, file);
    Files.writeString(vae.resolve("config.json"), TINY_DIFFUSERS_CONFIG);
    try (TensorStore written = TensorStore.open(file)) {
      // The names FLUX.1-dev's vae/diffusion_pytorch_model.safetensors uses.
      Set<String> names = written.names();
      assertTrue(names.contains("decoder.up_blocks.0.upsamplers.0.conv.weight"));
      assertTrue(names.contains("decoder.up_blocks.2.resnets.0.conv_shortcut.weight"));
      assertTrue(names.contains("encoder.down_blocks.2.resnets.0.conv_shortcut.weight"));
      assertTrue(names.contains("encoder.down_blocks.0.downsamplers.0.conv.weight"));
      assertTrue(names.contains("decoder.mid_block.resnets.1.norm2.weight"));
      assertTrue(names.contains("encoder.conv_norm_out.bias"));
      assertEquals(
          2, written.entry("encoder.mid_block.attentions.0.to_out.0.weight").shape().length);
      assertEquals(TINY_FROM_SHAPES, AutoEncoderParams.fromShapes(written));
    }
    assertEquals(TINY, AutoEncoderParams.fromConfig(vae.resolve("config.json")));
    assertEquals(file, VaeLoader.findCheckpoint(tmp));
    try (NDManager m = NDManager.newBaseManager();
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        AutoEncoder bfl = VaeLoader.load(Fixtures.MODEL, ComputeTarget.cpu());
        AutoEncoder diffusers = VaeLoader.load(tmp, ComputeTarget.cpu())) {
      assertEquals(TINY, diffusers.params());
      NDArray z = tensor(expected, "vae.in.z", m);
      NDArray image = tensor(expected, "vae.in.image", m);
      // The same weights under other names run the same code in this process: equal everywhere.
      assertTrue(bfl.decode(z).contentEquals(diffusers.decode(z)));
      assertTrue(bfl.encode(image).contentEquals(diffusers.encode(image)));
    }
  }

  @Test
  void bflStoreIsReadAsIs() {
    try (TensorStore store = TensorStore.open(AE)) {
      assertSame(store, DiffusersVaeStore.asBflLayout(store));
    }
  }

  /**
   * Rewrites a BFL {@code ae.safetensors} under diffusers names, the way diffusers' conversion
   * scripts map them (written independently of {@link DiffusersVaeStore}, which maps the other
   * way).
   */
  public static void writeDiffusersLayout(Path bflFile, Path out) throws IOException {
    SafetensorsWriter writer = new SafetensorsWriter();
    try (TensorStore bfl = TensorStore.open(bflFile)) {
      int levels = 0;
      while (bfl.contains("encoder.down." + levels + ".block.0.conv1.weight")) {
        levels++;
      }
      for (String name : bfl.names()) {
        TensorEntry e = bfl.entry(name);
        String renamed = diffusersName(name, levels);
        long[] shape = e.shape();
        if (renamed.contains(".attentions.0.to_") && renamed.endsWith(".weight")) {
          shape = new long[] {shape[0], shape[1]}; // 1x1 conv -> linear
        }
        ByteBuffer bytes = bfl.bytes(name);
        byte[] data = new byte[bytes.remaining()];
        bytes.get(data);
        writer.add(renamed, e.dtype(), shape, data);
      }
    }
    Files.createDirectories(out.getParent());
    writer.write(out);
  }

  private static String diffusersName(String bfl, int levels) {
    String n = bfl;
    for (int i = 0; i < levels; i++) {
      int up = levels - 1 - i;
      n =
          replacePrefix(
              n, "encoder.down." + i + ".block.", "encoder.down_blocks." + i + ".resnets.");
      n =
          replacePrefix(
              n,
              "encoder.down." + i + ".downsample.",
              "encoder.down_blocks." + i + ".downsamplers.0.");
      n = replacePrefix(n, "decoder.up." + up + ".block.", "decoder.up_blocks." + i + ".resnets.");
      n =
          replacePrefix(
              n, "decoder.up." + up + ".upsample.", "decoder.up_blocks." + i + ".upsamplers.0.");
    }
    for (String side : List.of("encoder.", "decoder.")) {
      n = replacePrefix(n, side + "mid.block_1.", side + "mid_block.resnets.0.");
      n = replacePrefix(n, side + "mid.block_2.", side + "mid_block.resnets.1.");
      n = replacePrefix(n, side + "mid.attn_1.norm.", side + "mid_block.attentions.0.group_norm.");
      n = replacePrefix(n, side + "mid.attn_1.q.", side + "mid_block.attentions.0.to_q.");
      n = replacePrefix(n, side + "mid.attn_1.k.", side + "mid_block.attentions.0.to_k.");
      n = replacePrefix(n, side + "mid.attn_1.v.", side + "mid_block.attentions.0.to_v.");
      n =
          replacePrefix(
              n, side + "mid.attn_1.proj_out.", side + "mid_block.attentions.0.to_out.0.");
      n = replacePrefix(n, side + "norm_out.", side + "conv_norm_out.");
    }
    return n.replace(".nin_shortcut.", ".conv_shortcut.");
  }

  private static String replacePrefix(String name, String from, String to) {
    return name.startsWith(from) ? to + name.substring(from.length()) : name;
  }
}
