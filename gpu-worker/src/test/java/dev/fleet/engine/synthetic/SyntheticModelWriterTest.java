package dev.fleet.engine.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.FluxPipeline;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.ClipDims;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticModelWriterTest {
  @TempDir Path tmp;

  static final ModelShape TINY = ModelShape.TINY;

  @Test
  void storageTypesHoldTheSameSeededWeightsRounded() throws Exception {
    SyntheticModelWriter w = SyntheticModelWriter.of(TINY, Fixtures.MODEL).withSeed(3);
    Path f32 = w.writeTransformer(tmp, DitStorage.F32);
    Path bf16 = w.writeTransformer(tmp, DitStorage.BF16);
    Path fp8 = w.writeTransformer(tmp, DitStorage.F8_E4M3);
    Path again = w.writeTransformer(tmp.resolve("again"), DitStorage.F32);
    Path otherSeed = w.withSeed(4).writeTransformer(tmp.resolve("other"), DitStorage.F32);
    assertArrayEquals(Files.readAllBytes(f32), Files.readAllBytes(again));
    assertFalse(java.util.Arrays.equals(Files.readAllBytes(f32), Files.readAllBytes(otherSeed)));
    try (TensorStore a = TensorStore.open(f32);
        TensorStore b = TensorStore.open(bf16);
        TensorStore c = TensorStore.open(fp8)) {
      for (TensorSpec t : TINY.layout(Component.DIT)) {
        float[] values = floats(a.bytes(t.name()));
        assertEquals(DType.BF16, b.entry(t.name()).dtype());
        assertEquals(
            ByteBuffer.wrap(Narrowing.encode(values, DType.BF16)), b.bytes(t.name()), t.name());
        DType expected = DitLayout.isBlockLinearWeight(t) ? DType.F8_E4M3 : DType.BF16;
        assertEquals(expected, c.entry(t.name()).dtype(), t.name());
        assertEquals(
            ByteBuffer.wrap(Narrowing.encode(values, expected)), c.bytes(t.name()), t.name());
        if (t.fill() == TensorSpec.Fill.ONES) {
          assertEquals(1f, values[0], t.name());
        }
      }
      // Normal fills have about their standard deviation.
      float[] qkv = floats(a.bytes("double_blocks.0.img_attn.qkv.weight")); // (192, 64)
      double sq = 0;
      for (float v : qkv) {
        sq += v * v;
      }
      assertEquals(1 / Math.sqrt(64), Math.sqrt(sq / qkv.length), 0.005);
    }
  }

  @Test
  void shardsAreContiguousNonEmptyAndBalanced() {
    List<TensorSpec> tensors = ModelShape.FLUX_DEV.layout(Component.T5);
    for (int count : new int[] {1, 2, 3, 7, tensors.size()}) {
      List<List<TensorSpec>> shards = SyntheticModelWriter.shard(tensors, count, DType.BF16);
      assertEquals(count, shards.size());
      assertEquals(tensors, shards.stream().flatMap(List::stream).toList());
      assertTrue(shards.stream().noneMatch(List::isEmpty));
    }
    // Two shards of FLUX.1-dev's T5 split near the middle (its embedding is the largest tensor).
    List<List<TensorSpec>> two = SyntheticModelWriter.shard(tensors, 2, DType.BF16);
    long first = two.get(0).stream().mapToLong(TensorSpec::elements).sum();
    double share = first / (double) ModelShape.FLUX_DEV.parameterCount(Component.T5);
    assertTrue(share > 0.45 && share < 0.6, "first shard share " + share);
  }

  @Test
  void tokenizerIdsBeyondTheVocabularyAreNamed() {
    ModelShape narrowClip =
        new ModelShape(
            "narrow",
            TINY.dit(),
            TINY.vae(),
            new ClipTextConfig(new ClipDims(300, 32, 2, 2, 64, 77), 1e-5f, "quick_gelu", 2),
            TINY.t5());
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SyntheticModelWriter.of(narrowClip, Fixtures.MODEL).write(tmp.resolve("m")));
    assertTrue(e.getMessage().contains("CLIP tokenizer"), e.getMessage());
    assertTrue(e.getMessage().contains("ids up to 319"), e.getMessage());
    assertTrue(e.getMessage().contains("vocab_size of 300"), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("m")), "nothing written");
  }

  @Test
  void clipPositionsShorterThanTheTokenizerAreNamed() {
    ModelShape shortClip =
        new ModelShape(
            "short",
            TINY.dit(),
            TINY.vae(),
            new ClipTextConfig(new ClipDims(320, 32, 2, 2, 64, 64), 1e-5f, "quick_gelu", 2),
            TINY.t5());
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SyntheticModelWriter.of(shortClip, Fixtures.MODEL).write(tmp.resolve("m")));
    assertTrue(e.getMessage().contains("produces 77 tokens"), e.getMessage());
    assertTrue(e.getMessage().contains("max_position_embeddings is 64"), e.getMessage());
  }

  @Test
  void badOptionsAndANonEmptyDirectoryAreRefused() throws Exception {
    SyntheticModelWriter w = SyntheticModelWriter.of(TINY, Fixtures.MODEL);
    var shards = assertThrows(IllegalArgumentException.class, () -> w.withT5Shards(0));
    assertTrue(shards.getMessage().contains("t5Shards"), shards.getMessage());
    assertThrows(IllegalArgumentException.class, () -> w.withT5Shards(1000));
    var dtype = assertThrows(IllegalArgumentException.class, () -> w.withTextStorage(DType.F16));
    assertTrue(dtype.getMessage().contains("F16"), dtype.getMessage());
    var source =
        assertThrows(
            IllegalArgumentException.class,
            () -> SyntheticModelWriter.of(TINY, tmp).write(tmp.resolve("m")));
    assertTrue(source.getMessage().contains("no tokenizer/ folder"), source.getMessage());
    Path full = Files.createDirectories(tmp.resolve("full"));
    Files.writeString(full.resolve("keep.txt"), "x");
    var e = assertThrows(IllegalArgumentException.class, () -> w.write(full));
    assertTrue(e.getMessage().contains("is not empty"), e.getMessage());
  }

  /** The fixture-sized preset with bfloat16 text encoders loads and generates. */
  @Test
  void tinyPresetWithBf16TextEncodersGenerates() throws Exception {
    ModelDirectory model =
        SyntheticModelWriter.of(TINY, Fixtures.MODEL)
            .withTextStorage(DType.BF16)
            .withT5Shards(1)
            .write(tmp.resolve("tiny"));
    try (TensorStore t5 = TensorStore.open(model.t5())) {
      assertEquals(DType.BF16, t5.entry("shared.weight").dtype());
    }
    try (FluxPipeline p = FluxPipeline.load(model, ComputeTarget.cpu())) {
      GenerationSpec spec = new GenerationSpec("a cat", 1, 1, 32, 32, 3.5, "tiny");
      assertEquals(32 * 32 * 3, p.generate(spec, GenerationListener.NONE).rgb().length);
    }
  }

  private static float[] floats(ByteBuffer b) {
    var fb = b.asFloatBuffer();
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }
}
