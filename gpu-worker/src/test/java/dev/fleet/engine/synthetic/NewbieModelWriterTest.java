package dev.fleet.engine.synthetic;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.nextdit.NewbieDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.pipeline.PlannedGeneration;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.GemmaDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NewBie directories of random weights: the newbie-tiny preset written, resolved, recognised and
 * drawn with end to end; its keys and shapes those of the reference fixture; the full preset's
 * written sizes (computed from the layouts, nothing written) those of the memory model.
 */
class NewbieModelWriterTest {
  private static final Path FIXTURE = Path.of("src/test/resources/fixtures/newbie-tiny");

  @Test
  void theTinyPresetIsANewbieModelThatDrawsAFiniteImage(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("nb");
    NewbieDirectory model =
        NewbieModelWriter.of(NewbieDims.TINY)
            .withDitStorage(DitStorage.F32)
            .withTextStorage(DType.F32)
            .withSeed(7)
            .write(dir);
    assertEquals(NewbieDirectory.resolve(dir, null), model);
    NewbieDims read = model.dims();
    assertEquals(NewbieDims.TINY.nextDit(), read.nextDit());
    assertEquals(NewbieDims.TINY.gemma(), read.gemma());
    assertEquals(NewbieDims.TINY.jina(), read.jina());
    assertEquals(NewbieDims.TINY.autoencoder(), read.autoencoder());
    assertEquals(StorageType.FP16, model.blockStorage());

    ModelLocation location = ModelLocation.of(dir);
    assertSame(ModelFamilies.NEWBIE, ModelFamilies.of(location));
    GenerationSpec spec =
        new GenerationSpec("a red circle on the left", 3, 2, 64, 48, 4.5, "nb", List.of(), "", 1.0);
    try (GenerationPipeline p =
        ModelFamilies.of(location)
            .load(
                location,
                ComputeTarget.cpu(),
                List.of(ExecutionPlan.allResident(Long.MAX_VALUE)),
                ExecutionOptions.defaults())) {
      PlannedGeneration g = p.generate(spec, GenerationListener.NONE);
      assertEquals(64, g.image().width());
      assertEquals(48, g.image().height());
      BufferedImage png = ImageAssert.readPng(g.image().png());
      assertEquals(64, png.getWidth());
      assertEquals(48, png.getHeight());
      // NaN or an overflow would come out as a flat or saturated image: neither is here.
      byte[] rgb = g.image().rgb();
      assertEquals(64 * 48 * 3, rgb.length);
      int saturated = 0;
      int min = 255;
      int max = 0;
      for (byte b : rgb) {
        int v = b & 0xff;
        saturated += v == 0 || v == 255 ? 1 : 0;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      assertTrue(max - min > 8, "the image varies: " + min + " … " + max);
      assertTrue(saturated < rgb.length / 2, saturated + " of " + rgb.length + " saturated");
    }
  }

  @Test
  void theTinyPresetHasTheFixturesKeysShapesAndFiniteWeights(@TempDir Path tmp) throws IOException {
    NewbieDirectory model =
        NewbieModelWriter.of(NewbieDims.TINY)
            .withDitStorage(DitStorage.F32)
            .withTextStorage(DType.F32)
            .write(tmp.resolve("nb"));
    assertSameLayout(FIXTURE.resolve("transformer/newbie.safetensors"), model.transformer());
    assertSameLayout(
        FIXTURE.resolve("text_encoder/model.safetensors"),
        model.textEncoder().resolve("model.safetensors"));
    assertSameLayout(
        FIXTURE.resolve("clip_model/model.safetensors"),
        model.clipModel().resolve("model.safetensors"));
    assertSameLayout(Path.of("models/flux-tiny/vae/ae.safetensors"), model.vae());
    assertEquals(
        Files.readString(FIXTURE.resolve("tokenizer/tokenizer.json")),
        Files.readString(model.tokenizer().resolve("tokenizer.json")));
    assertEquals(
        Files.readString(FIXTURE.resolve("clip_tokenizer/tokenizer.json")),
        Files.readString(model.clipTokenizer().resolve("tokenizer.json")));

    try (TensorStore dit = TensorStore.open(model.transformer());
        TensorStore gemma = TensorStore.open(model.textEncoder().resolve("model.safetensors"))) {
      // A matrix: normal with std 1/sqrt(fan_in); an embedding: 0.02; Gemma's norms: 0 (1 + w).
      assertStd(floats(dit, "layers.0.feed_forward.w2.weight"), 1 / Math.sqrt(128));
      assertStd(floats(gemma, "embed_tokens.weight"), 0.02);
      float[] norm = floats(gemma, "layers.0.input_layernorm.weight");
      for (float v : norm) {
        assertEquals(0f, v);
      }
      for (String name : dit.names()) {
        for (float v : floats(dit, name)) {
          assertTrue(Float.isFinite(v) && Math.abs(v) < 2, name + " holds " + v);
        }
      }
    }
  }

  @Test
  void float8StorageKeepsTheBlockMatricesInFloat8(@TempDir Path tmp) throws IOException {
    NewbieDirectory model =
        NewbieModelWriter.of(NewbieDims.TINY)
            .withDitStorage(DitStorage.F8_E4M3)
            .write(tmp.resolve("nb"));
    assertEquals(StorageType.FP8, model.blockStorage());
    assertEquals("newbie-fp8-e4m3fn.safetensors", model.transformer().getFileName().toString());
    try (TensorStore dit = TensorStore.open(model.transformer());
        TensorStore gemma = TensorStore.open(model.textEncoder().resolve("model.safetensors"))) {
      assertEquals(DType.F8_E4M3, dit.entry("noise_refiner.1.feed_forward.w1.weight").dtype());
      assertEquals(DType.BF16, dit.entry("context_refiner.0.attention.qkv.weight").dtype());
      assertEquals(DType.BF16, dit.entry("layers.0.attention_norm1.weight").dtype());
      assertEquals(DType.BF16, dit.entry("x_embedder.weight").dtype());
      assertEquals(DType.BF16, gemma.entry("embed_tokens.weight").dtype());
    }
  }

  @Test
  void aDirectoryWithFilesIsRefused(@TempDir Path tmp) throws IOException {
    Files.writeString(tmp.resolve("something"), "x");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> NewbieModelWriter.of(NewbieDims.TINY).write(tmp));
    assertTrue(e.getMessage().contains("is not empty"), e.getMessage());
  }

  /**
   * The full preset's files hold the memory model's parameters: the DiT, Jina and the autoencoder
   * exactly; Gemma those plus its last layer and final norm, which the checkpoint holds and NewBie
   * never loads (it reads {@code hidden_states[-2]}: layers 0 … L−2). At 16 bits that is ≈ 15 GB,
   * computed from the layouts without writing it.
   */
  @Test
  void theFullPresetsWrittenSizesAreTheMemoryModels() {
    NewbieDims d = NewbieDims.NEWBIE;
    NewbieModelWriter w = NewbieModelWriter.of(d);
    assertEquals(d.nextDit().params(), elements(w.ditLayout()));
    GemmaDims g = d.gemma();
    assertEquals(g.params() + g.layerParams() + g.hiddenSize(), elements(w.gemmaLayout()));
    assertEquals(d.jina().params(), elements(w.jinaLayout()));
    assertEquals(d.autoencoder().params(), elements(w.vaeLayout()));
    assertEquals(262_208L * 2560, w.gemmaLayout().get(0).elements(), "Gemma's real vocabulary");
    assertEquals(250_002L * 1024, w.jinaLayout().get(0).elements(), "Jina's real vocabulary");

    // Bytes as written: bf16 everywhere but the autoencoder (f32); fp8 block matrices 1 byte.
    long bf16Dit = bytes(w.ditLayout(), w::ditDtypeOf);
    assertEquals(2 * d.nextDit().params(), bf16Dit);
    NewbieModelWriter fp8 = w.withDitStorage(DitStorage.F8_E4M3);
    long blockMatrices = d.nextDit().streamableBlocks() * d.nextDit().blockMatrixParams(true);
    assertEquals(bf16Dit - blockMatrices, bytes(fp8.ditLayout(), fp8::ditDtypeOf));
    long text = bytes(w.gemmaLayout(), t -> DType.BF16) + bytes(w.jinaLayout(), t -> DType.BF16);
    long total = bf16Dit + text + bytes(w.vaeLayout(), t -> DType.F32);
    assertTrue(total > 14e9 && total < 17e9, "the newbie preset writes " + total + " bytes");
  }

  private static long elements(List<TensorSpec> layout) {
    return layout.stream().mapToLong(TensorSpec::elements).sum();
  }

  private static long bytes(
      List<TensorSpec> layout, java.util.function.Function<TensorSpec, DType> dtype) {
    return layout.stream().mapToLong(t -> t.elements() * dtype.apply(t).bytes()).sum();
  }

  private static void assertSameLayout(Path reference, Path written) {
    assertEquals(shapes(reference), shapes(written), written + " against " + reference);
  }

  private static Map<String, String> shapes(Path file) {
    Map<String, String> out = new TreeMap<>();
    try (TensorStore s = TensorStore.open(file)) {
      for (String name : s.names()) {
        TensorEntry e = s.entry(name);
        out.put(name, Arrays.toString(e.shape()));
      }
    }
    return out;
  }

  private static void assertStd(float[] v, double want) {
    double sum = 0;
    double sq = 0;
    for (float x : v) {
      sum += x;
      sq += (double) x * x;
    }
    double mean = sum / v.length;
    double std = Math.sqrt(sq / v.length - mean * mean);
    assertEquals(0, mean, 4 * want / Math.sqrt(v.length) + 1e-3 * want, "mean");
    assertEquals(want, std, 0.1 * want, "std");
  }
}
