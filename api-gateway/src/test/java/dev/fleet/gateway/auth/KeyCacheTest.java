package dev.fleet.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.auth.ApiKey;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class KeyCacheTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final KeyCache cache = new KeyCache(Duration.ofSeconds(60), 3, now::get);

  private static ApiKey key(String id, String tenant) {
    return new ApiKey(id, tenant, false, null, Instant.EPOCH, null);
  }

  @Test
  void aCheckedKeyIsFoundByItsTextUntilTheTtlRunsOut() {
    cache.put("fk_aaaa_secret1", key("aaaa", "alice"));
    assertEquals("alice", cache.get("fk_aaaa_secret1").orElseThrow().tenant());
    assertTrue(cache.get("fk_aaaa_secret2").isEmpty(), "another text of the same id");
    now.addAndGet(Duration.ofSeconds(59).toNanos());
    assertTrue(cache.get("fk_aaaa_secret1").isPresent());
    now.addAndGet(Duration.ofSeconds(1).toNanos());
    assertTrue(cache.get("fk_aaaa_secret1").isEmpty(), "expired");
    assertEquals(0, cache.size(), "an expired entry is dropped when seen");
  }

  @Test
  void forgettingAKeyDropsEveryTextOfItAndOnlyThose() {
    cache.put("t1", key("aaaa", "alice"));
    cache.put("t2", key("aaaa", "alice"));
    cache.put("t3", key("bbbb", "bob"));
    cache.forget("aaaa");
    assertTrue(cache.get("t1").isEmpty());
    assertTrue(cache.get("t2").isEmpty());
    assertEquals("bob", cache.get("t3").orElseThrow().tenant());
    cache.clear();
    assertTrue(cache.get("t3").isEmpty());
  }

  @Test
  void itNeverHoldsMoreThanItsSize() {
    for (int i = 0; i < 10; i++) {
      cache.put("t" + i, key("k" + i, "alice"));
      assertTrue(cache.size() <= 3, "size " + cache.size());
    }
    assertTrue(cache.get("t9").isPresent(), "the newest key is kept");
  }

  @Test
  void aZeroTtlOrSizeTurnsItOff() {
    KeyCache off = new KeyCache(Duration.ZERO, 10, now::get);
    off.put("t", key("aaaa", "alice"));
    assertFalse(off.enabled());
    assertTrue(off.get("t").isEmpty());
    assertFalse(new KeyCache(Duration.ofSeconds(1), 0, now::get).enabled());
    assertThrows(
        IllegalArgumentException.class, () -> new KeyCache(Duration.ofSeconds(-1), 1, now::get));
  }
}
