package dev.fleet.engine.lora;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Recently used LoRAs, read once and kept in host memory up to a byte bound, least recently used
 * dropped first. A file is read again when its size or modification time changed. Thread-safe.
 */
public final class LoraCache {
  /** A cached adapter and the file state it was read from. */
  private record Entry(long size, long modified, LoraAdapter adapter) {}

  private final long maxBytes;
  private final Map<Path, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
  private long bytes;
  private long reads;

  /**
   * @param maxBytes host bytes the cached adapters may hold (an adapter larger than that is read
   *     but not kept)
   */
  public LoraCache(long maxBytes) {
    if (maxBytes < 0) {
      throw new IllegalArgumentException("cache bound must be >= 0, got " + maxBytes);
    }
    this.maxBytes = maxBytes;
  }

  /** The adapter of {@code file} named {@code name}, from the cache or read now. */
  public synchronized LoraAdapter get(Path file, String name) {
    Path real;
    BasicFileAttributes a;
    try {
      real = file.toRealPath();
      a = Files.readAttributes(real, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new UnsupportedLoraException("cannot read LoRA file " + file + ": " + e, e);
    }
    long modified = a.lastModifiedTime().toMillis();
    Entry hit = entries.get(real);
    if (hit != null
        && hit.size() == a.size()
        && hit.modified() == modified
        && hit.adapter().name().equals(name)) {
      return hit.adapter();
    }
    if (hit != null) {
      entries.remove(real);
      bytes -= hit.adapter().hostBytes();
    }
    LoraAdapter read = LoraReader.read(real, name);
    reads++;
    if (read.hostBytes() <= maxBytes) {
      entries.put(real, new Entry(a.size(), modified, read));
      bytes += read.hostBytes();
      Iterator<Map.Entry<Path, Entry>> it = entries.entrySet().iterator();
      while (bytes > maxBytes && it.hasNext()) {
        Map.Entry<Path, Entry> eldest = it.next();
        if (!eldest.getKey().equals(real)) {
          bytes -= eldest.getValue().adapter().hostBytes();
          it.remove();
        }
      }
    }
    return read;
  }

  /** Host bytes held now. */
  public synchronized long bytes() {
    return bytes;
  }

  /** Adapters held now. */
  public synchronized int size() {
    return entries.size();
  }

  /** Files read since the cache was made (misses). */
  public synchronized long reads() {
    return reads;
  }
}
