package dev.fleet.engine.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Collects named tensors and writes them as one safetensors file (atomically, via a temp file). */
public final class SafetensorsWriter {
  private record Pending(DType dtype, long[] shape, byte[] data) {}

  private final Map<String, Pending> tensors = new LinkedHashMap<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  /** Adds a tensor from little-endian bytes; the byte count must match shape and dtype. */
  public SafetensorsWriter add(String name, DType dtype, long[] shape, byte[] littleEndianData) {
    long elements = 1;
    for (long d : shape) {
      elements *= d;
    }
    if (elements * dtype.bytes() != littleEndianData.length) {
      throw new IllegalArgumentException(
          name
              + ": shape needs "
              + elements * dtype.bytes()
              + " bytes of "
              + dtype
              + ", got "
              + littleEndianData.length);
    }
    if (tensors.putIfAbsent(name, new Pending(dtype, shape.clone(), littleEndianData)) != null) {
      throw new IllegalArgumentException("tensor written twice: " + name);
    }
    return this;
  }

  public SafetensorsWriter addFloats(String name, long[] shape, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return add(name, DType.F32, shape, b.array());
  }

  public SafetensorsWriter addLongs(String name, long[] shape, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return add(name, DType.I64, shape, b.array());
  }

  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /**
   * Writes the file; the header is padded with spaces to an 8-byte boundary as the format
   * recommends.
   */
  public void write(Path out) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    List<byte[]> blobs = new ArrayList<>();
    for (Map.Entry<String, Pending> e : tensors.entrySet()) {
      Pending p = e.getValue();
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", p.dtype().name());
      var shape = t.putArray("shape");
      for (long d : p.shape()) {
        shape.add(d);
      }
      var offs = t.putArray("data_offsets");
      offs.add(offset);
      offs.add(offset + p.data().length);
      offset += p.data().length;
      blobs.add(p.data());
    }
    byte[] headerBytes = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (headerBytes.length + 7) / 8 * 8;
    byte[] headerPadded = new byte[padded];
    java.util.Arrays.fill(headerPadded, (byte) ' ');
    System.arraycopy(headerBytes, 0, headerPadded, 0, headerBytes.length);
    Path parent = out.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Path tmp = Files.createTempFile(parent, out.getFileName().toString(), ".tmp");
    try (OutputStream os = Files.newOutputStream(tmp)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
      os.write(len.array());
      os.write(headerPadded);
      for (byte[] blob : blobs) {
        os.write(blob);
      }
    } catch (IOException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
