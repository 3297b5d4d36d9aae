package dev.fleet.engine.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker's bounded cache of recently used LoRAs. */
class LoraCacheTest {
  @TempDir Path tmp;

  @Test
  void keepsRecentlyUsedWithinItsBound() {
    Path a = LoraFiles.kohya(1, 0.1f).write(tmp.resolve("a.safetensors"));
    Path b = LoraFiles.kohya(2, 0.1f).write(tmp.resolve("b.safetensors"));
    Path c = LoraFiles.kohya(3, 0.1f).write(tmp.resolve("c.safetensors"));
    long one = LoraReader.read(a).hostBytes();
    LoraCache cache = new LoraCache(2 * one);
    LoraAdapter first = cache.get(a, "a");
    assertSame(first, cache.get(a, "a"), "a hit");
    cache.get(b, "b");
    cache.get(a, "a"); // a is now the most recent
    cache.get(c, "c"); // evicts b
    assertEquals(3, cache.reads());
    assertEquals(2, cache.size());
    assertTrue(cache.bytes() <= 2 * one);
    assertSame(first, cache.get(a, "a"));
    cache.get(b, "b");
    assertEquals(4, cache.reads(), "b was evicted and read again");
  }

  @Test
  void aChangedFileIsReadAgain() throws Exception {
    Path a = LoraFiles.kohya(1, 0.1f).write(tmp.resolve("a.safetensors"));
    LoraCache cache = new LoraCache(1L << 30);
    cache.get(a, "a");
    LoraFiles.bfl(5, 0.1f).write(a);
    java.nio.file.Files.setLastModifiedTime(
        a, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
    assertEquals(LoraFormat.NATIVE, cache.get(a, "a").format());
    assertEquals(2, cache.reads());
    assertEquals(1, cache.size());
  }
}
