package dev.fleet.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.checkpoint.DitCheckpoint;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GGUF files: F32, F16 and Q8_0 tensors read (Q8_0 exactly dequantized), the rest refused. */
class GgufFileTest {
  @TempDir Path tmp;

  private static String refusal(Path p) {
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
  void q8AndFloatTensorsReadWithTheirShapes() throws IOException {
    float[] w = new float[2 * 64];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) Math.sin(i) * (i % 7);
    }
    Path p = tmp.resolve("t.gguf");
    new GgufWriter()
        .metadata("general.architecture", "flux")
        .q8("a.weight", new long[] {2, 64}, w)
        .f16("a.scale", new long[] {3}, new float[] {1, 0.5f, -2})
        .f32("a.bias", new long[] {2}, new float[] {0.25f, -1})
        .write(p);
    try (GgufFile f = GgufFile.open(p)) {
      assertEquals("flux", f.metadata().get("general.architecture"));
      assertEquals(GgmlType.Q8_0, f.storedType("a.weight"));
      assertEquals(DType.F32, f.entry("a.weight").dtype());
      assertArrayEquals(new long[] {2, 64}, f.entry("a.weight").shape());
      float[] got = new float[w.length];
      f.bytes("a.weight").asFloatBuffer().get(got);
      assertArrayEquals(GgufWriter.q8Values(w), got);
      for (int i = 0; i < w.length; i++) {
        assertEquals(w[i], got[i], Math.abs(w[i]) / 100 + 0.05, "Q8_0 is close to the values");
      }
      assertEquals(DType.F16, f.entry("a.scale").dtype());
      assertEquals(DType.F32, f.entry("a.bias").dtype());
      assertEquals(-1f, f.bytes("a.bias").getFloat(4));
    }
  }

  @Test
  void otherQuantizationsAndBrokenFilesAreRefusedNamingGguf() throws IOException {
    Path q4 = tmp.resolve("flux1-dev-Q4_K_S.gguf");
    new GgufWriter()
        .f32("img_in.bias", new long[] {1}, new float[] {0})
        .raw("img_in.weight", GgmlType.Q4_K, new long[] {256}, new byte[144])
        .write(q4);
    assertContains(refusal(q4), "[img_in.weight]", "type Q4_K", "Q8_0", "safetensors");

    Path empty = tmp.resolve("empty.gguf");
    new GgufWriter().metadata("general.architecture", "flux").write(empty);
    assertContains(refusal(empty), "GGUF v3", "holds no tensors", "fp8 e4m3fn");

    Path truncated = tmp.resolve("cut.gguf");
    Files.write(truncated, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0});
    assertContains(refusal(truncated), "GGUF v3", "truncated header");

    Path v1 = tmp.resolve("old.gguf");
    Files.write(v1, new byte[] {'G', 'G', 'U', 'F', 1, 0, 0, 0, 0, 0, 0, 0});
    assertContains(refusal(v1), "version 1 is not supported");

    // A GGUF that is no FLUX transformer is refused as any such file: layouts tried, keys named.
    Path llm = tmp.resolve("llm.gguf");
    new GgufWriter().f32("token_embd.weight", new long[] {2}, new float[] {1, 2}).write(llm);
    assertContains(refusal(llm), "not a FLUX transformer", "token_embd.weight");
  }
}
