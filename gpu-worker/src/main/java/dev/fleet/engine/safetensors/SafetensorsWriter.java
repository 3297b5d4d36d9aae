package dev.fleet.engine.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
    List<HeaderEntry> entries = new ArrayList<>();
    List<byte[]> blobs = new ArrayList<>();
    for (Map.Entry<String, Pending> e : tensors.entrySet()) {
      Pending p = e.getValue();
      entries.add(new HeaderEntry(e.getKey(), p.dtype(), p.shape(), p.data().length));
      blobs.add(p.data());
    }
    writeAtomically(
        out,
        header(metadata, entries),
        channel -> {
          for (byte[] blob : blobs) {
            writeFully(channel, ByteBuffer.wrap(blob));
          }
        });
  }

  /** One tensor of a header: its key, storage type, shape and byte count, in file order. */
  record HeaderEntry(String name, DType dtype, long[] shape, long bytes) {}

  /** Writes the data of every tensor, in header order. */
  @FunctionalInterface
  interface Body {
    void writeTo(WritableByteChannel channel) throws IOException;
  }

  /** Writes all of {@code data}'s remaining bytes. */
  static void writeFully(WritableByteChannel channel, ByteBuffer data) throws IOException {
    while (data.hasRemaining()) {
      channel.write(data);
    }
  }

  /**
   * The 8-byte little-endian header length and the JSON header, padded with spaces to an 8-byte
   * boundary; tensors' data offsets follow one another in {@code entries}' order.
   */
  static byte[] header(Map<String, String> metadata, List<HeaderEntry> entries) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (HeaderEntry e : entries) {
      ObjectNode t = header.putObject(e.name());
      t.put("dtype", e.dtype().name());
      var shape = t.putArray("shape");
      for (long d : e.shape()) {
        shape.add(d);
      }
      var offs = t.putArray("data_offsets");
      offs.add(offset);
      offs.add(offset + e.bytes());
      offset += e.bytes();
    }
    byte[] headerBytes = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (headerBytes.length + 7) / 8 * 8;
    byte[] out = new byte[8 + padded];
    java.util.Arrays.fill(out, 8, out.length, (byte) ' ');
    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
    System.arraycopy(headerBytes, 0, out, 8, headerBytes.length);
    return out;
  }

  /** Writes {@code header} then {@code body} to a temp file beside {@code out}, then moves it. */
  static void writeAtomically(Path out, byte[] header, Body body) throws IOException {
    Path parent = out.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Path tmp = Files.createTempFile(parent, out.getFileName().toString(), ".tmp");
    try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      writeFully(channel, ByteBuffer.wrap(header));
      body.writeTo(channel);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
