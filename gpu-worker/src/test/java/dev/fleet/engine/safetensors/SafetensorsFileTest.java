package dev.fleet.engine.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
  @TempDir Path tmp;

  @Test
  void readsFixtureHeadersOfEveryDtype() {
    try (TensorStore f32 =
            TensorStore.open(Fixtures.MODEL.resolve("transformer/flux.safetensors"));
        TensorStore bf16 =
            TensorStore.open(Fixtures.MODEL.resolve("transformer/flux-bf16.safetensors"));
        TensorStore fp8 =
            TensorStore.open(Fixtures.MODEL.resolve("transformer/flux-fp8-e4m3fn.safetensors"))) {
      assertEquals(DType.F32, f32.entry("img_in.weight").dtype());
      assertEquals(DType.BF16, bf16.entry("img_in.weight").dtype());
      assertTrue(fp8.names().stream().anyMatch(n -> fp8.entry(n).dtype() == DType.F8_E4M3));
      assertArrayEquals(new long[] {64, 64}, f32.entry("img_in.weight").shape());
      assertEquals(64 * 64 * 4, f32.bytes("img_in.weight").remaining());
    }
  }

  @Test
  void opensShardedDirectoryThroughIndex() {
    try (TensorStore t5 = TensorStore.open(Fixtures.MODEL.resolve("text_encoder_2"))) {
      assertTrue(t5 instanceof ShardedTensorStore);
      assertTrue(t5.contains("shared.weight") || t5.contains("encoder.embed_tokens.weight"));
      assertTrue(t5.names().size() > 10);
    }
  }

  @Test
  void writerRoundTrips() throws Exception {
    Path out = tmp.resolve("rt.safetensors");
    new SafetensorsWriter()
        .addFloats("a", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6})
        .addLongs("ids", new long[] {2}, new long[] {7, -1})
        .metadata("k", "v")
        .write(out);
    try (SafetensorsFile f = SafetensorsFile.open(out)) {
      assertEquals("v", f.metadata().get("k"));
      assertEquals(6f, f.bytes("a").getFloat(20));
      assertEquals(-1L, f.bytes("ids").getLong(8));
    }
  }

  @Test
  void truncatedFileNamesFileAndTensor() throws Exception {
    Path good = tmp.resolve("good.safetensors");
    new SafetensorsWriter().addFloats("w", new long[] {4}, new float[] {1, 2, 3, 4}).write(good);
    byte[] all = Files.readAllBytes(good);
    Path cut = tmp.resolve("cut.safetensors");
    Files.write(cut, java.util.Arrays.copyOf(all, all.length - 3));
    var e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(cut));
    assertTrue(
        e.getMessage().contains("cut.safetensors") && e.getMessage().contains("[w]"),
        e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void unknownDtypeIsNamed() throws Exception {
    Path f = rawFile("{\"x\":{\"dtype\":\"F4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    var e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(f));
    assertTrue(
        e.getMessage().contains("[x]") && e.getMessage().contains("unknown dtype 'F4'"),
        e.getMessage());
  }

  @Test
  void shapeThatDisagreesWithOffsetsIsNamed() throws Exception {
    Path f = rawFile("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    var e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(f));
    assertTrue(
        e.getMessage().contains("[x]") && e.getMessage().contains("needs 12 bytes"),
        e.getMessage());
  }

  @Test
  void missingTensorAndMissingFileAreNamed() throws Exception {
    Path good = tmp.resolve("m.safetensors");
    new SafetensorsWriter().addFloats("w", new long[] {1}, new float[] {1}).write(good);
    try (SafetensorsFile f = SafetensorsFile.open(good)) {
      var e = assertThrows(SafetensorsException.class, () -> f.entry("nope"));
      assertTrue(e.getMessage().contains("m.safetensors [nope]: missing tensor"), e.getMessage());
    }
    var e =
        assertThrows(
            SafetensorsException.class, () -> TensorStore.open(tmp.resolve("absent.safetensors")));
    assertTrue(e.getMessage().contains("absent.safetensors"), e.getMessage());
    Path garbage = tmp.resolve("garbage.safetensors");
    Files.writeString(garbage, "this is not a tensor file at all");
    assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(garbage));
  }

  @Test
  void shardIndexNamingAMissingTensorFails() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("sharded"));
    new SafetensorsWriter()
        .addFloats("a", new long[] {1}, new float[] {1})
        .write(dir.resolve("p1.safetensors"));
    Files.writeString(
        dir.resolve("model.safetensors.index.json"),
        "{\"weight_map\":{\"a\":\"p1.safetensors\",\"b\":\"p1.safetensors\"}}");
    var e = assertThrows(SafetensorsException.class, () -> TensorStore.open(dir));
    assertTrue(e.getMessage().contains("[b]"), e.getMessage());
  }

  private Path rawFile(String header, int dataBytes) throws Exception {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Path f = Files.createTempFile(tmp, "raw", ".safetensors");
    Files.write(f, b.array());
    return f;
  }
}
