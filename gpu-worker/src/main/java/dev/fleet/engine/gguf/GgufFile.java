package dev.fleet.engine.gguf;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A GGUF file (llama.cpp's container, in which city96 publishes quantized FLUX transformers under
 * BFL's tensor names) read as a tensor store. Tensors stored as F32, F16 or BF16 are served as
 * stored; Q8_0 tensors (blocks of 32 int8 values with one float16 scale, value = scale · q) are
 * dequantized to float32 when read, exactly, so the engine computes with them as with any float
 * checkpoint (and plans them as such). Any other tensor type (Q4_K, Q5_1 …) is refused when the
 * file is opened, naming the tensor and its type; so is anything malformed, naming the format. Only
 * the header is read eagerly; tensor bytes are mapped when asked for.
 */
public final class GgufFile implements TensorStore {
  private static final byte[] MAGIC = {'G', 'G', 'U', 'F'};

  /** ggml's default data alignment when {@code general.alignment} is absent. */
  private static final int DEFAULT_ALIGNMENT = 32;

  /** Headers beyond this are corrupt for a FLUX file (city96's are a few hundred KB). */
  private static final long MAX_HEADER = 256L * 1024 * 1024;

  static final String ADVICE =
      "the engine reads GGUF tensors stored as F32, F16, BF16 or Q8_0, and safetensors"
          + " checkpoints: use a Q8_0 GGUF or the model's safetensors release (bf16, or fp8 e4m3fn,"
          + " plain or ComfyUI \"scaled fp8\")";

  private record Raw(GgmlType type, long offset, long bytes) {}

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, Raw> raw;
  private final Map<String, TensorEntry> entries;
  private final Map<String, String> metadata;

  private GgufFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, Raw> raw,
      Map<String, TensorEntry> entries,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.raw = raw;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** True when the file starts with GGUF's magic. */
  public static boolean isGguf(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer head = ByteBuffer.allocate(4);
      while (head.hasRemaining() && ch.read(head) > 0) {
        // read the magic
      }
      return Arrays.equals(head.array(), MAGIC);
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Opens a GGUF file and checks every tensor's type and byte range.
   *
   * @throws SafetensorsException naming the file (and the tensor) when it cannot be read
   */
  public static GgufFile open(Path path) {
    String file = path.toString();
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new SafetensorsException(file, "cannot open", e);
    }
    long version = -1;
    try {
      long size = channel.size();
      ByteBuffer h =
          channel
              .map(FileChannel.MapMode.READ_ONLY, 0, Math.min(size, MAX_HEADER))
              .order(ByteOrder.LITTLE_ENDIAN);
      byte[] magic = new byte[4];
      h.get(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new SafetensorsException(file, null, "not a GGUF file");
      }
      version = Integer.toUnsignedLong(h.getInt());
      if (version < 2 || version > 3) {
        throw refusal(file, version, "version " + version + " is not supported (2 and 3 are)");
      }
      long tensors = h.getLong();
      long kvs = h.getLong();
      if (tensors < 0 || kvs < 0 || tensors > 1_000_000 || kvs > 1_000_000) {
        throw refusal(
            file, version, "implausible counts: " + tensors + " tensors, " + kvs + " keys");
      }
      Map<String, String> metadata = new LinkedHashMap<>();
      long alignment = DEFAULT_ALIGNMENT;
      for (long i = 0; i < kvs; i++) {
        String key = string(h);
        long type = Integer.toUnsignedLong(h.getInt());
        String value = value(h, type, file, version, key);
        metadata.put(key, value);
        if (key.equals("general.alignment")) {
          alignment = Long.parseLong(value);
          if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
            throw refusal(file, version, "general.alignment " + alignment + " is no power of two");
          }
        }
      }
      if (tensors == 0) {
        throw refusal(file, version, "it holds no tensors");
      }
      Map<String, Raw> raw = new LinkedHashMap<>();
      Map<String, long[]> shapes = new LinkedHashMap<>();
      for (long i = 0; i < tensors; i++) {
        String name = string(h);
        int dims = h.getInt();
        if (dims < 0 || dims > 8) {
          throw refusal(file, version, name + " has " + dims + " dimensions");
        }
        long[] shape = new long[dims];
        for (int d = 0; d < dims; d++) {
          shape[dims - 1 - d] = h.getLong(); // ggml lists the innermost dimension first
        }
        long typeId = Integer.toUnsignedLong(h.getInt());
        long offset = h.getLong();
        GgmlType type = GgmlType.byId(typeId);
        if (type == null || !type.readable()) {
          throw new SafetensorsException(
              file,
              name,
              "GGUF tensor of type "
                  + (type == null ? "id " + typeId : type.name())
                  + " cannot be dequantized by the engine; "
                  + ADVICE);
        }
        long elements = 1;
        for (long d : shape) {
          if (d < 0) {
            throw refusal(file, version, name + " has shape " + Arrays.toString(shape));
          }
          elements *= d;
        }
        long bytes = type.bytes(elements);
        if (bytes < 0
            || (shape.length > 0 && shape[shape.length - 1] % type.blockElements() != 0)) {
          throw refusal(
              file,
              version,
              name + " " + Arrays.toString(shape) + " does not fill whole " + type + " blocks");
        }
        if (raw.put(name, new Raw(type, offset, bytes)) != null) {
          throw refusal(file, version, name + " appears twice");
        }
        shapes.put(name, shape);
      }
      long dataStart = (h.position() + alignment - 1) / alignment * alignment;
      Map<String, TensorEntry> entries = new LinkedHashMap<>();
      for (var e : raw.entrySet()) {
        Raw r = e.getValue();
        if (r.offset() < 0 || r.offset() % alignment != 0) {
          throw refusal(file, version, e.getKey() + " starts at unaligned offset " + r.offset());
        }
        if (dataStart + r.offset() + r.bytes() > size) {
          throw refusal(
              file,
              version,
              "truncated: "
                  + e.getKey()
                  + " ends at byte "
                  + (dataStart + r.offset() + r.bytes())
                  + " of "
                  + size);
        }
        long[] shape = shapes.get(e.getKey());
        DType dtype =
            switch (r.type()) {
              case F32, Q8_0 -> DType.F32;
              case F16 -> DType.F16;
              case BF16 -> DType.BF16;
              default -> throw new IllegalStateException("unreadable type " + r.type());
            };
        long served = r.type() == GgmlType.Q8_0 ? r.bytes() / 34 * 32 * 4 : r.bytes();
        entries.put(
            e.getKey(),
            new TensorEntry(path, e.getKey(), dtype, shape, r.offset(), r.offset() + served));
      }
      return new GgufFile(
          path,
          channel,
          dataStart,
          Collections.unmodifiableMap(raw),
          Collections.unmodifiableMap(entries),
          Collections.unmodifiableMap(metadata));
    } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
      closeQuietly(channel);
      throw refusal(file, version, "truncated header");
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    } catch (IOException e) {
      closeQuietly(channel);
      throw new SafetensorsException(file, "cannot read GGUF header", e);
    }
  }

  private static SafetensorsException refusal(String file, long version, String problem) {
    return new SafetensorsException(
        file,
        null,
        "this is a GGUF"
            + (version > 0 ? " v" + version : "")
            + " file (llama.cpp's container, e.g. city96's quantized FLUX files) that the engine"
            + " cannot read: "
            + problem
            + "; "
            + ADVICE);
  }

  private static String string(ByteBuffer h) {
    long n = h.getLong();
    if (n < 0 || n > h.remaining()) {
      throw new BufferUnderflowException();
    }
    byte[] b = new byte[(int) n];
    h.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  /** A metadata value as text (arrays by their length: the engine needs none of them). */
  private static String value(ByteBuffer h, long type, String file, long version, String key) {
    return switch ((int) type) {
      case 0 -> Integer.toString(Byte.toUnsignedInt(h.get()));
      case 1 -> Byte.toString(h.get());
      case 2 -> Integer.toString(Short.toUnsignedInt(h.getShort()));
      case 3 -> Short.toString(h.getShort());
      case 4 -> Long.toString(Integer.toUnsignedLong(h.getInt()));
      case 5 -> Integer.toString(h.getInt());
      case 6 -> Float.toString(h.getFloat());
      case 7 -> Boolean.toString(h.get() != 0);
      case 8 -> string(h);
      case 9 -> {
        long itemType = Integer.toUnsignedLong(h.getInt());
        long count = h.getLong();
        if (count < 0 || count > h.remaining()) {
          throw new BufferUnderflowException();
        }
        for (long i = 0; i < count; i++) {
          value(h, itemType, file, version, key);
        }
        yield "array[" + count + "]";
      }
      case 10 -> Long.toUnsignedString(h.getLong());
      case 11 -> Long.toString(h.getLong());
      case 12 -> Double.toString(h.getDouble());
      default -> throw refusal(file, version, "metadata " + key + " has unknown type " + type);
    };
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // the open failure is what the caller needs to see
    }
  }

  /** The ggml type a tensor is stored as. */
  public GgmlType storedType(String name) {
    entry(name);
    return raw.get(name).type();
  }

  @Override
  public Set<String> names() {
    return entries.keySet();
  }

  @Override
  public TensorEntry entry(String name) {
    TensorEntry e = entries.get(name);
    if (e == null) {
      throw new SafetensorsException(path.toString(), name, "missing tensor");
    }
    return e;
  }

  @Override
  public ByteBuffer bytes(String name) {
    entry(name);
    Raw r = raw.get(name);
    ByteBuffer stored;
    try {
      stored =
          r.bytes() == 0
              ? ByteBuffer.allocate(0)
              : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + r.offset(), r.bytes());
    } catch (IOException e) {
      throw new SafetensorsException(path + " [" + name + "]", "cannot map tensor bytes", e);
    }
    stored.order(ByteOrder.LITTLE_ENDIAN);
    return r.type() == GgmlType.Q8_0 ? dequantizeQ8(stored) : stored;
  }

  /** Q8_0 blocks (float16 scale, 32 int8) to little-endian float32: scale · q, exact in float32. */
  static ByteBuffer dequantizeQ8(ByteBuffer blocks) {
    int n = blocks.remaining() / GgmlType.Q8_0.blockBytes();
    ByteBuffer out = ByteBuffer.allocateDirect(n * 32 * 4).order(ByteOrder.LITTLE_ENDIAN);
    int at = blocks.position();
    for (int b = 0; b < n; b++) {
      float d = Float.float16ToFloat(blocks.getShort(at));
      for (int i = 0; i < 32; i++) {
        out.putFloat(d * blocks.get(at + 2 + i));
      }
      at += GgmlType.Q8_0.blockBytes();
    }
    return out.flip();
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  @Override
  public String describe() {
    return path.toString();
  }

  @Override
  public void close() {
    closeQuietly(channel);
  }
}
