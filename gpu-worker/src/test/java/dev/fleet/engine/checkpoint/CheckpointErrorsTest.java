package dev.fleet.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.engine.weights.Widening;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the engine refuses, and how: foreign formats by name with what to use instead, files in no
 * known layout with the layouts tried and the keys that did not fit, and every tensor whose
 * encoding it does not understand by its name. Nothing is silently ignored.
 */
class CheckpointErrorsTest {
  @TempDir Path tmp;

  private Path file(String name, Consumer<SafetensorsWriter> tensors) throws IOException {
    SafetensorsWriter w = new SafetensorsWriter();
    tensors.accept(w);
    Path p = tmp.resolve(name);
    w.write(p);
    return p;
  }

  private static byte[] f32(float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  private static void fp8Layer(SafetensorsWriter w, String layer) {
    w.add(layer + ".weight", DType.F8_E4M3, new long[] {2, 2}, new byte[] {0x38, 0x40, 0x30, 0});
  }

  private static String message(Path p) {
    String m =
        assertThrows(SafetensorsException.class, () -> DitCheckpoint.open(p).close()).getMessage();
    System.out.println("refused: " + m);
    return m;
  }

  private static void assertContains(String text, String... parts) {
    for (String part : parts) {
      assertTrue(text.contains(part), "expected '" + part + "' in: " + text);
    }
  }

  @Test
  void ggufAndPicklesAreRefusedByNameWithWhatToUseInstead() throws IOException {
    Path gguf = tmp.resolve("flux1-dev-Q8_0.gguf");
    byte[] head = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    Files.write(gguf, head);
    assertContains(message(gguf), gguf.toString(), "GGUF v3", "safetensors", "fp8 e4m3fn");
    Path zip = tmp.resolve("model.ckpt");
    Files.write(zip, new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0});
    assertContains(message(zip), "PyTorch zip archive", "never loaded");
    Path pickle = tmp.resolve("old.pt");
    Files.write(pickle, new byte[] {(byte) 0x80, 2, 0x7d, 0x71, 0, 0x28, 0, 0, 0});
    assertContains(message(pickle), "Python pickle");
    // A safetensors header of 640 bytes starts with the bytes 0x80 0x02, as a pickle does: the
    // header decides, not the first bytes.
    Path tricky = tmp.resolve("tricky.safetensors");
    new SafetensorsWriter()
        .metadata("pad", "x".repeat(640 - 80))
        .addFloats("a", new long[] {1}, new float[] {1})
        .write(tricky);
    byte[] first = Files.readAllBytes(tricky);
    assertEquals(0x80, first[0] & 0xff);
    assertEquals(2, first[1]);
    try (TensorStore s = TensorStore.open(tricky)) {
      assertTrue(s.contains("a"));
    }

    // A transformer folder holding only a GGUF file takes it, and its damage is named.
    Path dir = tmp.resolve("gguf-model");
    copyFixtureExceptTransformer(dir);
    Files.createDirectories(dir.resolve("transformer"));
    Files.write(dir.resolve("transformer/flux1-dev-Q4_K.gguf"), head);
    SafetensorsException e =
        assertThrows(SafetensorsException.class, () -> ModelDirectory.resolve(dir, null));
    assertContains(e.getMessage(), "flux1-dev-Q4_K.gguf", "GGUF v3", "truncated header");
    Files.write(dir.resolve("transformer/flux1-dev-Q8_0.gguf"), head);
    IllegalArgumentException several =
        assertThrows(IllegalArgumentException.class, () -> ModelDirectory.resolve(dir, null));
    assertContains(several.getMessage(), "several GGUF files", "--dit");
  }

  private static void copyFixtureExceptTransformer(Path dir) throws IOException {
    for (String part :
        new String[] {"vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"}) {
      Path from = Fixtures.MODEL.resolve(part);
      Files.createDirectories(dir.resolve(part));
      try (var files = Files.list(from)) {
        for (Path f : files.toList()) {
          Files.copy(f, dir.resolve(part).resolve(f.getFileName()));
        }
      }
    }
  }

  @Test
  void aFileInNoKnownLayoutNamesTheLayoutsTriedAndTheKeysThatDidNotFit() throws IOException {
    Path lora =
        file(
            "lora.safetensors",
            w -> {
              for (int i = 0; i < 3; i++) {
                w.addFloats(
                    "lora_unet_double_blocks_" + i + "_img_attn_proj.alpha",
                    new long[0],
                    new float[] {1});
              }
            });
    String m = message(lora);
    assertContains(
        m,
        lora.toString(),
        "BFL",
        "model.diffusion_model.",
        "diffusion_model.",
        "diffusers",
        "lora_unet_double_blocks_0_img_attn_proj.alpha",
        "3 tensors");
    // An autoencoder given as the transformer.
    String vae = message(Fixtures.MODEL.resolve("vae/ae.safetensors"));
    assertContains(vae, "First keys that did not fit", "decoder.");
  }

  @Test
  void aPrefixIsTakenWhenMoreThanFiveKeysCarryIt() throws IOException {
    Path five =
        file(
            "five.safetensors",
            w -> {
              w.addFloats("img_in.weight", new long[] {1}, new float[] {1});
              for (int i = 0; i < 5; i++) {
                w.addFloats(
                    "model.diffusion_model.x" + i + ".weight", new long[] {1}, new float[] {1});
              }
            });
    try (TensorStore s = TensorStore.open(five)) {
      assertEquals("", DitKeyLayout.prefixOf(s));
      assertEquals(DitKeyLayout.BFL, DitKeyLayout.detect(s));
    }
    Path six =
        file(
            "six.safetensors",
            w -> {
              w.addFloats("img_in.weight", new long[] {1}, new float[] {1});
              w.addFloats("model.diffusion_model.img_in.weight", new long[] {1}, new float[] {1});
              for (int i = 0; i < 5; i++) {
                w.addFloats(
                    "model.diffusion_model.x" + i + ".weight", new long[] {1}, new float[] {1});
              }
            });
    try (TensorStore s = TensorStore.open(six)) {
      assertEquals("model.diffusion_model.", DitKeyLayout.prefixOf(s));
      assertEquals(DitKeyLayout.COMFYUI, DitKeyLayout.detect(s));
    }
  }

  private String refusal(Consumer<SafetensorsWriter> tensors) throws IOException {
    Path p = file("q" + System.nanoTime() + ".safetensors", tensors);
    try (TensorStore s = TensorStore.open(p)) {
      return assertThrows(SafetensorsException.class, () -> ScaledFloat8Store.of(s, ""))
          .getMessage();
    }
  }

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void everyEncodingNotUnderstoodIsRefusedByName() throws IOException {
    byte[] nvfp4 = json("{\"format\":\"nvfp4\"}");
    assertContains(
        refusal(
            w -> {
              w.add("a.weight", DType.U8, new long[] {2, 1}, new byte[] {1, 2});
              w.add("a.comfy_quant", DType.U8, new long[] {nvfp4.length}, nvfp4);
            }),
        "[a]",
        "'nvfp4' is not supported");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.addFloats("a.weight_scale", new long[] {2}, new float[] {1, 2});
            }),
        "[a.weight_scale]",
        "per-channel");
    assertContains(
        refusal(w -> w.add("a.weight", DType.U8, new long[] {2}, new byte[] {1, 2})),
        "[a.weight]",
        "U8 without a float8 format");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.addFloats("a.weight_scale_2", new long[0], new float[] {1});
            }),
        "[a.weight_scale_2]",
        "cannot widen");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.addFloats("a.lora_A", new long[] {1}, new float[] {1});
            }),
        "[a.lora_A]",
        "neither a transformer parameter");
    byte[] e5m2 = json("{\"format\":\"float8_e5m2\"}");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.add("a.comfy_quant", DType.U8, new long[] {e5m2.length}, e5m2);
            }),
        "[a.weight]",
        "stored as F8_E4M3 but its layer is declared float8_e5m2");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.addFloats("b.scale_weight", new long[0], new float[] {1});
            }),
        "[b.scale_weight]",
        "missing weight b.weight");
    assertContains(
        refusal(
            w -> {
              fp8Layer(w, "a");
              w.metadata(
                  "_quantization_metadata", "{\"layers\":{\"a\":{\"format\":\"int8_blockwise\"}}}");
            }),
        "'int8_blockwise' is not supported");
  }

  @Test
  void aScaledWeightIsItsFloat8CodesTimesItsScale() throws IOException {
    byte[] fmt = json("{\"format\":\"float8_e4m3fn\"}");
    Path p =
        file(
            "scaled.safetensors",
            w -> {
              // A uint8 container declared e4m3fn, with its scale and input scale.
              w.add(
                  "a.weight", DType.U8, new long[] {2, 2}, new byte[] {0x38, 0x40, (byte) 0xb0, 0});
              w.add("a.weight_scale", DType.F32, new long[0], f32(0.25f));
              w.add("a.input_scale", DType.F32, new long[0], f32(3f));
              w.add("a.comfy_quant", DType.U8, new long[] {fmt.length}, fmt);
              w.add("a.bias", DType.F8_E4M3, new long[] {2}, new byte[] {0x38, 0x30});
              // A scale on a float32 weight: applied, without touching the file's mapping.
              w.add("f.weight", DType.F32, new long[] {1, 2}, f32(1f, 2f));
              w.add("f.scale_weight", DType.F32, new long[0], f32(0.5f));
              w.add("zero.weight", DType.F8_E4M3, new long[] {1, 1}, new byte[] {0x38});
              w.add("zero.scale_weight", DType.F32, new long[0], f32(0f));
            });
    try (TensorStore s = ScaledFloat8Store.of(TensorStore.open(p), "");
        NDManager m = NDManager.newBaseManager()) {
      assertEquals(java.util.Set.of("a.weight", "a.bias", "f.weight", "zero.weight"), s.names());
      assertEquals(DType.F8_E4M3, s.entry("a.weight").dtype());
      assertEquals(0.25f, s.valueScale("a.weight"));
      assertEquals(1f, s.valueScale("a.bias"));
      Weights w = new Weights(s, ComputeTarget.cpu());
      float[] a = w.load("a.weight", m, 2, 2).toFloatArray();
      float[] expected = {
        Widening.E4M3FN[0x38] * 0.25f,
        Widening.E4M3FN[0x40] * 0.25f,
        Widening.E4M3FN[0xb0] * 0.25f,
        0
      };
      assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(a));
      assertEquals(
          java.util.Arrays.toString(new float[] {1f, 0.5f}),
          java.util.Arrays.toString(w.load("a.bias", m, 2).toFloatArray()));
      for (int i = 0; i < 2; i++) {
        assertEquals(
            java.util.Arrays.toString(new float[] {0.5f, 1f}),
            java.util.Arrays.toString(w.load("f.weight", m, 1, 2).toFloatArray()));
      }
      assertContains(
          assertThrows(SafetensorsException.class, () -> s.valueScale("zero.weight")).getMessage(),
          "[zero.scale_weight]",
          "not a finite, non-zero");
    }
  }
}
