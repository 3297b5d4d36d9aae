package dev.fleet.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.synthetic.Component;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.synthetic.SyntheticModelWriter;
import dev.fleet.engine.synthetic.TensorSpec;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import dev.fleet.model.memory.Workload;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full-size FLUX.1 checkpoints as headers over holes (sparse files): the key sets of {@code
 * flux1-dev.safetensors} (19 double and 38 single blocks, 780 tensors), {@code
 * flux1-schnell.safetensors} (776, no {@code guidance_in}) and {@code ae.safetensors} (244), and
 * the spellings of the files people run (ComfyUI prefixes, fp8, scaled fp8, mixed, all-in-one) are
 * recognised, their shapes inferred and a memory plan made from their real stored dtypes, none of
 * it reading a weight.
 */
class Flux1HeadersTest {
  private static final long GIB = ByteSize.GIB;

  @TempDir Path tmp;

  /** How a spelling stores each transformer tensor (null leaves it out). */
  private static SparseCheckpoint dit(
      ModelShape shape, String prefix, Function<TensorSpec, DType> dtype) {
    SparseCheckpoint c = new SparseCheckpoint();
    for (TensorSpec t : shape.layout(Component.DIT)) {
      c.add(prefix + t.name(), dtype.apply(t), t.shape());
    }
    return c;
  }

  private static boolean isMatrix(TensorSpec t) {
    return t.name().endsWith(".weight") && t.rank() == 2;
  }

  private static SparseCheckpoint autoencoder(String prefix) {
    SparseCheckpoint c = new SparseCheckpoint();
    for (TensorSpec t : ModelShape.FLUX_DEV.layout(Component.VAE)) {
      c.add(prefix + t.name(), DType.F32, t.shape());
    }
    return c;
  }

  /** A FLUX.1 model directory: encoder configs and tokenizers, ae.safetensors, no weights else. */
  private Path modelDir(String name) throws IOException {
    Path root = tmp.resolve(name);
    Files.createDirectories(root.resolve("transformer"));
    autoencoder("").write(root.resolve("ae.safetensors"));
    ObjectMapper json = new ObjectMapper();
    Files.createDirectories(root.resolve("text_encoder"));
    json.writeValue(
        root.resolve("text_encoder/config.json").toFile(),
        SyntheticModelWriter.clipConfigJson(ModelShape.FLUX_DEV.clip(), DType.BF16));
    Files.createDirectories(root.resolve("text_encoder_2"));
    json.writeValue(
        root.resolve("text_encoder_2/config.json").toFile(),
        SyntheticModelWriter.t5ConfigJson(ModelShape.FLUX_DEV.t5(), DType.BF16));
    for (String t : List.of("tokenizer", "tokenizer_2")) {
      Files.createDirectories(root.resolve(t));
      try (Stream<Path> files = Files.list(Fixtures.MODEL.resolve(t))) {
        for (Path f : files.toList()) {
          Files.copy(f, root.resolve(t).resolve(f.getFileName()));
        }
      }
    }
    return root;
  }

  private static PlanDecision plan(FluxDims dims, StorageType storage, long budget) {
    return Planner.plan(
        dims,
        new Workload(1024, 1024, 1, storage),
        budget,
        Hardware.DEFAULT,
        EngineProfile.DJL_EAGER);
  }

  @Test
  void theKeySetsHaveTheirRealCountsNamesAndShapes() throws IOException {
    SparseCheckpoint dev = dit(ModelShape.FLUX_DEV, "", t -> DType.BF16);
    SparseCheckpoint schnell = dit(ModelShape.FLUX_SCHNELL, "", t -> DType.BF16);
    SparseCheckpoint ae = autoencoder("");
    assertEquals(780, dev.size());
    assertEquals(776, schnell.size());
    assertEquals(244, ae.size());
    Path devFile = tmp.resolve("flux1-dev.safetensors");
    dev.write(devFile);
    Path aeFile = tmp.resolve("ae.safetensors");
    ae.write(aeFile);
    assertTrue(Files.size(devFile) > 23_000_000_000L, "the real size: " + Files.size(devFile));
    try (TensorStore d = DitCheckpoint.open(devFile);
        TensorStore a = TensorStore.open(aeFile)) {
      // Names and shapes as in Black Forest Labs' files.
      long h = 3072;
      assertArrayEquals(new long[] {h, 64}, d.entry("img_in.weight").shape());
      assertArrayEquals(new long[] {h, 4096}, d.entry("txt_in.weight").shape());
      assertArrayEquals(new long[] {h, 256}, d.entry("guidance_in.in_layer.weight").shape());
      assertArrayEquals(
          new long[] {4 * h, h}, d.entry("double_blocks.18.img_mlp.0.weight").shape());
      assertArrayEquals(
          new long[] {128}, d.entry("double_blocks.0.txt_attn.norm.key_norm.scale").shape());
      assertArrayEquals(new long[] {7 * h, h}, d.entry("single_blocks.37.linear1.weight").shape());
      assertArrayEquals(new long[] {h, 5 * h}, d.entry("single_blocks.37.linear2.weight").shape());
      assertArrayEquals(
          new long[] {2 * h, h}, d.entry("final_layer.adaLN_modulation.1.weight").shape());
      assertArrayEquals(new long[] {512, 16, 3, 3}, a.entry("decoder.conv_in.weight").shape());
      assertArrayEquals(new long[] {32, 512, 3, 3}, a.entry("encoder.conv_out.weight").shape());
      assertArrayEquals(
          new long[] {512, 512, 1, 1}, a.entry("decoder.mid.attn_1.q.weight").shape());
      assertArrayEquals(
          new long[] {128, 256, 1, 1}, a.entry("decoder.up.0.block.0.nin_shortcut.weight").shape());
      assertEquals(ModelShape.FLUX_DEV.dit(), FluxParams.fromShapes(d));
    }
  }

  @Test
  void devAndSchnellAreInferredAndPlannedFromTheirHeaders() throws IOException {
    Path root = modelDir("FLUX.1-dev");
    dit(ModelShape.FLUX_DEV, "", t -> DType.BF16)
        .write(root.resolve("transformer/flux1-dev.safetensors"));
    ModelDirectory dev = ModelDirectory.resolve(root, null);
    FluxDims dims = ModelDimsReader.read(dev);
    assertEquals(FluxDims.FLUX_DEV.dit(), dims.dit());
    assertEquals(FluxDims.FLUX_DEV.autoencoder(), dims.autoencoder());
    assertEquals(StorageType.FP16, ModelDimsReader.ditStorage(dev));
    assertTrue(plan(dims, StorageType.FP16, 16 * GIB).fits());

    Path schnellFile = tmp.resolve("flux1-schnell.safetensors");
    dit(ModelShape.FLUX_SCHNELL, "", t -> DType.BF16).write(schnellFile);
    ModelDirectory schnell = ModelDirectory.resolve(root, schnellFile.toString());
    FluxDims s = ModelDimsReader.read(schnell);
    assertFalse(s.dit().guidanceEmbed());
    assertEquals(FluxDims.FLUX_SCHNELL.dit(), s.dit());
    assertTrue(plan(s, ModelDimsReader.ditStorage(schnell), 16 * GIB).fits());
  }

  /**
   * majicflus as it is published (ComfyUI prefix, float8 matrices), ComfyUI's scaled fp8 and a
   * mixed file: each is planned by the dtypes it really stores, fp8 with its scales counted.
   */
  @Test
  void comfyUiFloat8FilesArePlannedByTheirStoredDtypes() throws IOException {
    Path root = modelDir("FLUX.1-dev");
    Path majic = tmp.resolve("majicflus_v134.safetensors");
    dit(
            ModelShape.FLUX_DEV,
            "model.diffusion_model.",
            t -> isMatrix(t) ? DType.F8_E4M3 : DType.BF16)
        .write(majic);
    ModelDirectory m = ModelDirectory.resolve(root, majic.toString());
    FluxDims dims = ModelDimsReader.read(m);
    assertEquals(FluxDims.FLUX_DEV.dit(), dims.dit());
    assertEquals(StorageType.FP8, ModelDimsReader.ditStorage(m));
    Workload fp8 = new Workload(1024, 1024, 1, StorageType.FP8);
    Workload fp16 = new Workload(1024, 1024, 1, StorageType.FP16);
    FluxMemoryModel small = new FluxMemoryModel(dims, fp8, EngineProfile.DJL_EAGER);
    FluxMemoryModel wide = new FluxMemoryModel(dims, fp16, EngineProfile.DJL_EAGER);
    assertEquals(
        dims.dit().doubleBlockMatrixParams()
            + 10 * FluxMemoryModel.FP8_SCALE_BYTES
            + 2 * dims.dit().doubleBlockVectorParams(),
        small.doubleBlockBytes());
    assertTrue(small.ditBlockBytes() < 0.55 * wide.ditBlockBytes());
    assertTrue(plan(dims, StorageType.FP8, 8 * GIB).fits());

    SparseCheckpoint scaled =
        dit(
            ModelShape.FLUX_DEV,
            "model.diffusion_model.",
            t -> isMatrix(t) ? DType.F8_E4M3 : DType.BF16);
    scaled.add("model.diffusion_model.scaled_fp8", DType.F8_E4M3, 0);
    for (TensorSpec t : ModelShape.FLUX_DEV.layout(Component.DIT)) {
      if (isMatrix(t)) {
        String layer = t.name().substring(0, t.name().length() - ".weight".length());
        scaled.add("model.diffusion_model." + layer + ".scale_weight", DType.F32);
      }
    }
    Path scaledFile = tmp.resolve("flux1-dev-fp8-scaled.safetensors");
    scaled.write(scaledFile);
    ModelDirectory s = ModelDirectory.resolve(root, scaledFile.toString());
    try (TensorStore view = s.openTransformer()) {
      assertEquals(780, view.names().size(), "the scales are not parameters");
    }
    assertEquals(StorageType.FP8, ModelDimsReader.ditStorage(s));
    assertEquals(dims, ModelDimsReader.read(s));

    // Measured block by block, a uniform fp8 file is what the fp8 formula says.
    StoredBlocks measured = ModelDimsReader.storedBlocks(m);
    assertEquals(small.doubleBlockBytes(), measured.doubleBlockBytes());
    assertEquals(small.singleBlockBytes(), measured.singleBlockBytes());
    assertEquals(dims.dit().doubleBlockMatrixParams(), measured.doubleBlockFloat8Params());

    // Some blocks float8, some bf16: labelled by the wider (so that nothing sized by the label
    // alone is short), sized block by block between the fp8 and the fp16 sizes.
    Path mixed = tmp.resolve("mixed.safetensors");
    dit(
            ModelShape.FLUX_DEV,
            "",
            t -> isMatrix(t) && t.name().startsWith("single_blocks.") ? DType.F8_E4M3 : DType.BF16)
        .write(mixed);
    ModelDirectory mixedModel = ModelDirectory.resolve(root, mixed.toString());
    assertEquals(StorageType.FP16, ModelDimsReader.ditStorage(mixedModel));
    StoredBlocks mixedBlocks = ModelDimsReader.storedBlocks(mixedModel);
    Workload mixedWorkload = new Workload(1024, 1024, 1, StorageType.FP16, mixedBlocks);
    FluxMemoryModel sized = new FluxMemoryModel(dims, mixedWorkload, EngineProfile.DJL_EAGER);
    assertEquals(wide.doubleBlockBytes(), sized.doubleBlockBytes());
    assertEquals(small.singleBlockBytes(), sized.singleBlockBytes());
    assertEquals(0, mixedBlocks.doubleBlockFloat8Params());
    assertTrue(
        small.ditBlockBytes() < sized.ditBlockBytes()
            && sized.ditBlockBytes() < wide.ditBlockBytes());
    PlanDecision mixedPlan =
        Planner.plan(dims, mixedWorkload, 12 * GIB, Hardware.DEFAULT, EngineProfile.DJL_EAGER);
    assertTrue(mixedPlan.fits());
  }

  /**
   * A ComfyUI all-in-one header (transformer, autoencoder, CLIP and T5 under their prefixes) beside
   * a directory without any weights: every component is found in the file and planned.
   */
  @Test
  void anAllInOneFileIsRecognisedAndPlanned() throws IOException {
    Path root = modelDir("FLUX.1-dev");
    Files.delete(root.resolve("ae.safetensors"));
    SparseCheckpoint aio =
        dit(
            ModelShape.FLUX_DEV,
            "model.diffusion_model.",
            t -> isMatrix(t) ? DType.F8_E4M3 : DType.BF16);
    for (TensorSpec t : ModelShape.FLUX_DEV.layout(Component.VAE)) {
      aio.add("vae." + t.name(), DType.BF16, t.shape());
    }
    for (TensorSpec t : ModelShape.FLUX_DEV.layout(Component.CLIP)) {
      aio.add("text_encoders.clip_l.transformer.text_model." + t.name(), DType.BF16, t.shape());
    }
    for (TensorSpec t : ModelShape.FLUX_DEV.layout(Component.T5)) {
      aio.add("text_encoders.t5xxl.transformer." + t.name(), DType.F8_E4M3, t.shape());
    }
    Path file = tmp.resolve("flux1-dev-fp8-aio.safetensors");
    aio.write(file);
    ModelDirectory m = ModelDirectory.resolve(root, file.toString());
    assertTrue(m.vaeWeights().embedded() && m.clipWeights().embedded() && m.t5Weights().embedded());
    FluxDims dims = ModelDimsReader.read(m);
    assertEquals(FluxDims.FLUX_DEV.dit(), dims.dit());
    assertEquals(FluxDims.FLUX_DEV.autoencoder(), dims.autoencoder());
    assertEquals(StorageType.FP8, ModelDimsReader.ditStorage(m));
    assertTrue(plan(dims, StorageType.FP8, 12 * GIB).fits());
  }
}
