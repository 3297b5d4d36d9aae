package dev.fleet.engine.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file: an 8-byte little-endian header length, a JSON header, then the data
 * section. Only the header is read eagerly; tensor bytes are mapped per tensor when asked for,
 * which keeps them off the Java heap and lets the OS page cache hold a single copy. A mapping lives
 * as long as the buffer returned for it; the channel stays open until {@link #close()}.
 */
public final class SafetensorsFile implements TensorStore {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The format caps headers at 100 MB; anything larger is a corrupt length field. */
  private static final long MAX_HEADER = 100L * 1024 * 1024;

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorEntry> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, TensorEntry> entries,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Opens and validates a file; every tensor's byte range is checked against the file size. */
  public static SafetensorsFile open(Path path) {
    String file = path.toString();
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new SafetensorsException(file, "cannot open", e);
    }
    try {
      long size = channel.size();
      if (size < 8) {
        throw new SafetensorsException(
            file, null, "truncated: " + size + " bytes, no header length");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lenBuf, 0);
      long headerLen = lenBuf.getLong(0);
      if (!startsWithJsonHeader(channel, headerLen, size)) {
        // Not safetensors: name the format when its first bytes tell it (a pickle's first two
        // bytes can also start a safetensors length, hence safetensors is tried first).
        ForeignFormat foreign = ForeignFormat.sniff(lenBuf.array());
        if (foreign != null) {
          throw foreign.refusal(file, lenBuf.array());
        }
      }
      if (headerLen <= 0 || headerLen > MAX_HEADER) {
        throw new SafetensorsException(
            file, null, "invalid header length " + headerLen + " (not a safetensors file?)");
      }
      if (8 + headerLen > size) {
        throw new SafetensorsException(
            file, null, "truncated: header needs " + (8 + headerLen) + " bytes, file has " + size);
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(channel, header, 8);
      JsonNode root;
      try {
        root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new SafetensorsException(file, "header is not valid JSON", e);
      }
      if (root == null || !root.isObject()) {
        throw new SafetensorsException(file, null, "header is not a JSON object");
      }
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      Map<String, TensorEntry> entries = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        String name = field.getKey();
        JsonNode node = field.getValue();
        if (name.equals("__metadata__")) {
          node.fields()
              .forEachRemaining(
                  m ->
                      metadata.put(
                          m.getKey(),
                          m.getValue().isTextual()
                              ? m.getValue().asText()
                              : m.getValue().toString()));
          continue;
        }
        entries.put(name, parseEntry(path, name, node, dataSize));
      }
      return new SafetensorsFile(
          path, channel, dataStart, Collections.unmodifiableMap(entries), metadata);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    } catch (IOException e) {
      closeQuietly(channel);
      throw new SafetensorsException(file, "cannot read header", e);
    }
  }

  private static TensorEntry parseEntry(Path path, String name, JsonNode node, long dataSize) {
    String file = path.toString();
    JsonNode dtypeNode = node.get("dtype");
    JsonNode shapeNode = node.get("shape");
    JsonNode offsets = node.get("data_offsets");
    if (dtypeNode == null
        || shapeNode == null
        || offsets == null
        || !shapeNode.isArray()
        || offsets.size() != 2) {
      throw new SafetensorsException(file, name, "entry lacks dtype, shape or data_offsets");
    }
    DType dtype = DType.parse(dtypeNode.asText(), file, name);
    long[] shape = new long[shapeNode.size()];
    long elements = 1;
    for (int i = 0; i < shape.length; i++) {
      shape[i] = shapeNode.get(i).asLong();
      if (shape[i] < 0) {
        throw new SafetensorsException(file, name, "negative dimension in shape " + shapeNode);
      }
      elements *= shape[i];
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    if (begin < 0 || end < begin) {
      throw new SafetensorsException(
          file, name, "invalid data_offsets [" + begin + ", " + end + "]");
    }
    if (end - begin != elements * dtype.bytes()) {
      throw new SafetensorsException(
          file,
          name,
          "shape "
              + shapeNode
              + " of "
              + dtype
              + " needs "
              + elements * dtype.bytes()
              + " bytes, offsets give "
              + (end - begin));
    }
    if (end > dataSize) {
      throw new SafetensorsException(
          file,
          name,
          "truncated: tensor ends at byte " + end + " of the data section, which has " + dataSize);
    }
    return new TensorEntry(path, name, dtype, shape, begin, end);
  }

  /** Whether a plausible header length is followed by a JSON object, as in every safetensors. */
  private static boolean startsWithJsonHeader(FileChannel ch, long headerLen, long size)
      throws IOException {
    if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
      return false;
    }
    ByteBuffer first = ByteBuffer.allocate(1);
    readFully(ch, first, 8);
    return first.get(0) == '{';
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      pos += n;
    }
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // the open failure is what the caller needs to see
    }
  }

  public Path path() {
    return path;
  }

  /** The {@code __metadata__} string map of the header (empty when absent). */
  @Override
  public Map<String, String> metadata() {
    return Collections.unmodifiableMap(metadata);
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
    TensorEntry e = entry(name);
    if (e.byteSize() == 0) {
      return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
    }
    try {
      return channel
          .map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), e.byteSize())
          .order(ByteOrder.LITTLE_ENDIAN);
    } catch (IOException ex) {
      throw new SafetensorsException(path + " [" + name + "]", "cannot map tensor bytes", ex);
    }
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
