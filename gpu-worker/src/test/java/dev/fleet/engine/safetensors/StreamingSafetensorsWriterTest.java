package dev.fleet.engine.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A store streamed tensor by tensor gives the file {@link SafetensorsWriter} writes at once. */
class StreamingSafetensorsWriterTest {

  @Test
  void aStreamedCopyIsTheBufferedFileByteForByte(@TempDir Path dir) throws IOException {
    Path buffered = dir.resolve("a.safetensors");
    new SafetensorsWriter()
        .metadata("format", "pt")
        .addFloats("w", new long[] {2, 3}, new float[] {1, -2, 3.5f, 0, 1e-3f, 7})
        .addLongs("ids", new long[] {3}, new long[] {5, 6, 7})
        .add("h", DType.BF16, new long[] {1}, new byte[] {0x3f, (byte) 0x80})
        .write(buffered);
    Path streamed = dir.resolve("b.safetensors");
    long written;
    try (TensorStore source = TensorStore.open(buffered)) {
      written = StreamingSafetensorsWriter.write(source, streamed, Map.of("format", "pt"));
    }
    assertArrayEquals(Files.readAllBytes(buffered), Files.readAllBytes(streamed));
    assertEquals(Files.size(streamed), written);
    try (TensorStore s = TensorStore.open(streamed)) {
      assertEquals(DType.I64, s.entry("ids").dtype());
      assertEquals(7L, s.bytes("ids").getLong(16));
    }
  }
}
