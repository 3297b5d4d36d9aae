package dev.fleet.engine.pipeline;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Prompt conditionings kept on the host across jobs, least recently used first out, bounded by an
 * entry count and by bytes: a hit skips both text encoders, which for FLUX.1-dev means not loading
 * 9.5 GB of T5 for a repeated prompt. Thread-safe.
 */
public final class PromptEmbeddingCache {
  private final int maxEntries;
  private final long maxBytes;
  private final LinkedHashMap<Key, HostEmbeddings> entries = new LinkedHashMap<>(16, 0.75f, true);
  private long bytes;
  private long hits;
  private long misses;

  /**
   * What a conditioning depends on.
   *
   * @param encoders identity of the encoder pair and the precision they ran in
   * @param prompt the prompt text
   * @param t5Length T5 sequence length
   * @param clipLength CLIP sequence length
   */
  public record Key(String encoders, String prompt, int t5Length, int clipLength) {
    public Key {
      if (encoders == null || prompt == null) {
        throw new IllegalArgumentException("cache key needs the encoders and the prompt");
      }
    }
  }

  /**
   * @param maxEntries most prompts kept (0 disables the cache)
   * @param maxBytes most host bytes kept
   */
  public PromptEmbeddingCache(int maxEntries, long maxBytes) {
    if (maxEntries < 0 || maxBytes < 0) {
      throw new IllegalArgumentException(
          "cache bounds must be >= 0, got " + maxEntries + " entries, " + maxBytes + " bytes");
    }
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
  }

  /** 64 prompts or 256 MiB (a FLUX.1-dev conditioning is 8 MiB in float32). */
  public static PromptEmbeddingCache defaults() {
    return new PromptEmbeddingCache(64, 256L << 20);
  }

  /** The cached conditioning, or null (counted as a hit or a miss). */
  public synchronized HostEmbeddings get(Key key) {
    HostEmbeddings e = entries.get(key);
    if (e == null) {
      misses++;
    } else {
      hits++;
    }
    return e;
  }

  /** Keeps a conditioning, evicting the least recently used ones beyond the bounds. */
  public synchronized void put(Key key, HostEmbeddings value) {
    if (value.bytes() > maxBytes || maxEntries == 0) {
      return;
    }
    HostEmbeddings old = entries.put(key, value);
    if (old != null) {
      bytes -= old.bytes();
    }
    bytes += value.bytes();
    Iterator<Map.Entry<Key, HostEmbeddings>> it = entries.entrySet().iterator();
    while ((entries.size() > maxEntries || bytes > maxBytes) && it.hasNext()) {
      Map.Entry<Key, HostEmbeddings> eldest = it.next();
      bytes -= eldest.getValue().bytes();
      it.remove();
    }
  }

  public synchronized void clear() {
    entries.clear();
    bytes = 0;
  }

  public synchronized int size() {
    return entries.size();
  }

  public synchronized long bytes() {
    return bytes;
  }

  public synchronized long hits() {
    return hits;
  }

  public synchronized long misses() {
    return misses;
  }
}
