package dev.fleet.engine.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes GGUF v3 files as llama.cpp's gguf-py does (string metadata, tensor infos with ggml's
 * innermost-first dimensions, data aligned to 32 bytes), with Q8_0 quantization as ggml's
 * reference: per block of 32, d = max|v| / 127 stored as float16, q = round(v / d).
 */
public final class GgufWriter {
  private record Tensor(String name, GgmlType type, long[] shape, byte[] data) {}

  private final List<String[]> strings = new ArrayList<>();
  private final List<Tensor> tensors = new ArrayList<>();

  public GgufWriter metadata(String key, String value) {
    strings.add(new String[] {key, value});
    return this;
  }

  public GgufWriter f32(String name, long[] shape, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return raw(name, GgmlType.F32, shape, b.array());
  }

  public GgufWriter f16(String name, long[] shape, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putShort(Float.floatToFloat16(x));
    }
    return raw(name, GgmlType.F16, shape, b.array());
  }

  /** Q8_0 blocks of {@code v}, which must hold a multiple of 32 values per row. */
  public GgufWriter q8(String name, long[] shape, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length / 32 * 34).order(ByteOrder.LITTLE_ENDIAN);
    for (int blk = 0; blk < v.length / 32; blk++) {
      float amax = 0;
      for (int i = 0; i < 32; i++) {
        amax = Math.max(amax, Math.abs(v[blk * 32 + i]));
      }
      float d = amax / 127f;
      float id = d == 0 ? 0 : 1f / d;
      b.putShort(Float.floatToFloat16(d));
      for (int i = 0; i < 32; i++) {
        b.put((byte) Math.round(v[blk * 32 + i] * id));
      }
    }
    return raw(name, GgmlType.Q8_0, shape, b.array());
  }

  /** The values a Q8_0 tensor written by {@link #q8} stands for. */
  public static float[] q8Values(float[] v) {
    byte[] blocks = new GgufWriter().q8("x", new long[] {v.length}, v).tensors.get(0).data();
    ByteBuffer f = GgufFile.dequantizeQ8(ByteBuffer.wrap(blocks).order(ByteOrder.LITTLE_ENDIAN));
    float[] out = new float[v.length];
    f.asFloatBuffer().get(out);
    return out;
  }

  /** A tensor of any type from its stored bytes (e.g. Q4_K, to see it refused). */
  public GgufWriter raw(String name, GgmlType type, long[] shape, byte[] data) {
    tensors.add(new Tensor(name, type, shape.clone(), data));
    return this;
  }

  public void write(Path file) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'G', 'G', 'U', 'F'})
        .putInt(3)
        .putLong(tensors.size())
        .putLong(strings.size());
    head.write(b.array());
    for (String[] kv : strings) {
      string(head, kv[0]);
      head.write(le(4).putInt(8).array());
      string(head, kv[1]);
    }
    long offset = 0;
    List<Long> offsets = new ArrayList<>();
    for (Tensor t : tensors) {
      string(head, t.name());
      head.write(le(4).putInt(t.shape().length).array());
      for (int d = t.shape().length - 1; d >= 0; d--) {
        head.write(le(8).putLong(t.shape()[d]).array());
      }
      head.write(le(4).putInt(t.type().id()).array());
      head.write(le(8).putLong(offset).array());
      offsets.add(offset);
      offset = align(offset + t.data().length);
    }
    byte[] header = head.toByteArray();
    byte[] out = new byte[(int) (align(header.length) + offset)];
    System.arraycopy(header, 0, out, 0, header.length);
    long dataStart = align(header.length);
    for (int i = 0; i < tensors.size(); i++) {
      byte[] d = tensors.get(i).data();
      System.arraycopy(d, 0, out, (int) (dataStart + offsets.get(i)), d.length);
    }
    Files.write(file, out);
  }

  private static long align(long n) {
    return (n + 31) / 32 * 32;
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void string(ByteArrayOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.write(le(8).putLong(b.length).array());
    out.write(b);
  }
}
