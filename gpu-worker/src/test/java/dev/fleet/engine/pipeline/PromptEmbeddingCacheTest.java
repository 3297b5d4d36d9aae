package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PromptEmbeddingCacheTest {

  private static HostEmbeddings embeddings(int t5Values) {
    return new HostEmbeddings(
        new float[t5Values], new long[] {1, t5Values / 4, 4}, new float[4], new long[] {1, 4});
  }

  private static PromptEmbeddingCache.Key key(String prompt) {
    return new PromptEmbeddingCache.Key("enc", prompt, 32, 77);
  }

  @Test
  void leastRecentlyUsedGoesFirstWhenEntriesRunOut() {
    PromptEmbeddingCache cache = new PromptEmbeddingCache(2, 1 << 20);
    cache.put(key("a"), embeddings(8));
    cache.put(key("b"), embeddings(8));
    assertNotNull(cache.get(key("a"))); // a is now the most recent
    cache.put(key("c"), embeddings(8));
    assertNull(cache.get(key("b")));
    assertNotNull(cache.get(key("a")));
    assertNotNull(cache.get(key("c")));
    assertEquals(2, cache.size());
    assertEquals(3, cache.hits());
    assertEquals(1, cache.misses());
  }

  @Test
  void bytesBoundEvictsAndOversizedEntriesAreNotKept() {
    // Each entry: (8 + 4) floats = 48 bytes.
    PromptEmbeddingCache cache = new PromptEmbeddingCache(100, 100);
    cache.put(key("a"), embeddings(8));
    cache.put(key("b"), embeddings(8));
    assertEquals(96, cache.bytes());
    cache.put(key("c"), embeddings(8));
    assertEquals(2, cache.size());
    assertNull(cache.get(key("a")));
    cache.put(key("huge"), embeddings(400));
    assertNull(cache.get(key("huge")));
    assertEquals(96, cache.bytes());
    cache.put(key("b"), embeddings(8)); // replacing keeps the count right
    assertEquals(96, cache.bytes());
    cache.clear();
    assertEquals(0, cache.size());
    assertEquals(0, cache.bytes());
  }

  @Test
  void keysDifferByEncoderPromptAndLength() {
    PromptEmbeddingCache cache = new PromptEmbeddingCache(10, 1 << 20);
    cache.put(key("a"), embeddings(8));
    assertNull(cache.get(new PromptEmbeddingCache.Key("other", "a", 32, 77)));
    assertNull(cache.get(new PromptEmbeddingCache.Key("enc", "a", 512, 77)));
    assertNull(cache.get(new PromptEmbeddingCache.Key("enc", "A", 32, 77)));
    assertNotNull(cache.get(new PromptEmbeddingCache.Key("enc", "a", 32, 77)));
    assertThrows(IllegalArgumentException.class, () -> new PromptEmbeddingCache(-1, 0));
    assertThrows(
        IllegalArgumentException.class, () -> new PromptEmbeddingCache.Key(null, "a", 1, 1));
    assertThrows(
        IllegalArgumentException.class,
        () -> new HostEmbeddings(new float[3], new long[] {1, 4}, new float[1], new long[] {1}));
  }
}
