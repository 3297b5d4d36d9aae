package dev.fleet.gateway;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small LoRA files for the gateway's tests: safetensors of F32 tensors, written by hand. */
public final class TestLoras {
  private TestLoras() {}

  /** One kohya module of rank {@code rank}: down [rank, in], up [out, rank], alpha = rank. */
  public static Map<String, long[]> kohya(String module, int rank, int in, int out) {
    Map<String, long[]> t = new LinkedHashMap<>();
    t.put(module + ".lora_down.weight", new long[] {rank, in});
    t.put(module + ".lora_up.weight", new long[] {out, rank});
    t.put(module + ".alpha", new long[] {});
    return t;
  }

  /**
   * Writes {@code tensors} as F32: uniform in ±{@code magnitude} from {@code seed} (alpha tensors
   * hold the rank, so that the scale is 1), or zeros for magnitude 0.
   */
  public static Path write(Path file, Map<String, long[]> tensors, long seed, float magnitude)
      throws IOException {
    StringBuilder h = new StringBuilder("{");
    long offset = 0;
    for (var e : tensors.entrySet()) {
      long n = 1;
      StringBuilder shape = new StringBuilder("[");
      for (long d : e.getValue()) {
        n *= d;
        shape.append(shape.length() > 1 ? "," : "").append(d);
      }
      shape.append(']');
      h.append(h.length() > 1 ? "," : "")
          .append('"')
          .append(e.getKey())
          .append("\":{\"dtype\":\"F32\",\"shape\":")
          .append(shape)
          .append(",\"data_offsets\":[")
          .append(offset)
          .append(',')
          .append(offset + 4 * n)
          .append("]}");
      offset += 4 * n;
    }
    byte[] header = h.append('}').toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b =
        ByteBuffer.allocate(8 + header.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header);
    Random random = new Random(seed);
    for (var e : tensors.entrySet()) {
      long[] shape = e.getValue();
      if (shape.length == 0) {
        String down = e.getKey().replace(".alpha", ".lora_down.weight");
        b.putFloat(tensors.containsKey(down) ? tensors.get(down)[0] : 1);
        continue;
      }
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      for (long i = 0; i < n; i++) {
        b.putFloat(magnitude == 0 ? 0 : (random.nextFloat() * 2 - 1) * magnitude);
      }
    }
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, b.array());
    return file;
  }
}
