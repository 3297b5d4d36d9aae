package dev.fleet.engine.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.safetensors.DType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors file of real size whose data section is a hole: the header of a full-size
 * checkpoint (FLUX.1-dev's 24 GB) written in milliseconds and a few kilobytes of disk, for what
 * must work from the header alone.
 */
final class SparseCheckpoint {
  private record Tensor(DType dtype, long[] shape) {}

  private final Map<String, Tensor> tensors = new LinkedHashMap<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  SparseCheckpoint add(String name, DType dtype, long... shape) {
    if (tensors.put(name, new Tensor(dtype, shape.clone())) != null) {
      throw new IllegalArgumentException("tensor added twice: " + name);
    }
    return this;
  }

  SparseCheckpoint metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  int size() {
    return tensors.size();
  }

  /** Writes the header and extends the file over the data section without writing it. */
  void write(Path file) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode m = header.putObject("__metadata__");
      metadata.forEach(m::put);
    }
    long offset = 0;
    for (var e : tensors.entrySet()) {
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", e.getValue().dtype().name());
      var shape = t.putArray("shape");
      long n = 1;
      for (long d : e.getValue().shape()) {
        shape.add(d);
        n *= d;
      }
      var offs = t.putArray("data_offsets");
      offs.add(offset);
      offset += n * e.getValue().dtype().bytes();
      offs.add(offset);
    }
    byte[] text = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (text.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(text);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.write(head.array());
      f.setLength(8 + padded + offset);
    }
  }
}
