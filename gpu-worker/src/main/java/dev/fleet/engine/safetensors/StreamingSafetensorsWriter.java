package dev.fleet.engine.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes every tensor of a {@link TensorStore} into one safetensors file, one tensor at a time: the
 * header is made from the store's entries alone, then each tensor's bytes are read, written and
 * dropped, so the heap holds one tensor however large the file (a synthetic store makes each
 * tensor's bytes only when it is read). The file is written beside its target and moved into place,
 * as {@link SafetensorsWriter} does; the header is the same as its.
 */
public final class StreamingSafetensorsWriter {
  private StreamingSafetensorsWriter() {}

  /**
   * @param source the tensors, written in its {@link TensorStore#names()} order with their stored
   *     dtypes and shapes
   * @param metadata the header's {@code __metadata__} (may be empty)
   * @return the bytes written
   */
  public static long write(TensorStore source, Path out, Map<String, String> metadata)
      throws IOException {
    List<SafetensorsWriter.HeaderEntry> entries = new ArrayList<>();
    for (String name : source.names()) {
      TensorEntry e = source.entry(name);
      entries.add(new SafetensorsWriter.HeaderEntry(name, e.dtype(), e.shape(), e.byteSize()));
    }
    byte[] header = SafetensorsWriter.header(metadata, entries);
    long[] written = {header.length};
    SafetensorsWriter.writeAtomically(
        out,
        header,
        channel -> {
          for (SafetensorsWriter.HeaderEntry e : entries) {
            ByteBuffer data = source.bytes(e.name()).duplicate();
            if (data.remaining() != e.bytes()) {
              throw new IllegalStateException(
                  source.describe()
                      + " gave "
                      + data.remaining()
                      + " bytes for "
                      + e.name()
                      + ", its entry says "
                      + e.bytes());
            }
            SafetensorsWriter.writeFully(channel, data);
            written[0] += e.bytes();
          }
        });
    return written[0];
  }
}
