package dev.fleet.gateway.auth;

import dev.fleet.model.auth.ApiKey;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * API keys already checked against the database, so that a request with a known key costs no query:
 * the key's text (as its SHA-256, never the text itself) to the key, for at most {@code ttl}, at
 * most {@code maxEntries} of them (when full, it starts over empty).
 *
 * <p>A cache of credentials is only as good as its invalidation: {@link #forget} drops a revoked
 * key at once (the gateway calls it for its own revocations and for every {@code
 * api_key_revocations} notification, which PostgreSQL sends whoever revokes), and {@link #clear}
 * drops everything when notifications may have been missed. The owner consults the cache only while
 * those notifications are being listened to; the ttl bounds what a lost notification could cost.
 */
public final class KeyCache {
  private record Entry(ApiKey key, long expiresAtNanos) {}

  private final Map<String, Entry> byDigest = new ConcurrentHashMap<>();
  private final long ttlNanos;
  private final int maxEntries;
  private final LongSupplier nanoClock;

  public KeyCache(Duration ttl, int maxEntries, LongSupplier nanoClock) {
    if (ttl.isNegative() || maxEntries < 0) {
      throw new IllegalArgumentException("key cache: ttl and size must not be negative");
    }
    this.ttlNanos = ttl.toNanos();
    this.maxEntries = maxEntries;
    this.nanoClock = nanoClock;
  }

  /** Whether it keeps anything at all (a zero ttl or size turns it off). */
  public boolean enabled() {
    return ttlNanos > 0 && maxEntries > 0;
  }

  /** The key whose text is {@code token}, if it was checked less than the ttl ago. */
  public Optional<ApiKey> get(String token) {
    if (!enabled() || token == null) {
      return Optional.empty();
    }
    String digest = digest(token);
    Entry e = byDigest.get(digest);
    if (e == null) {
      return Optional.empty();
    }
    if (nanoClock.getAsLong() - e.expiresAtNanos() >= 0) {
      byDigest.remove(digest, e);
      return Optional.empty();
    }
    return Optional.of(e.key());
  }

  /** Remembers that {@code token} is the text of {@code key} (just checked). */
  public void put(String token, ApiKey key) {
    if (!enabled()) {
      return;
    }
    if (byDigest.size() >= maxEntries) {
      byDigest.clear();
    }
    byDigest.put(digest(token), new Entry(key, nanoClock.getAsLong() + ttlNanos));
  }

  /** Drops the key with public id {@code keyId}. */
  public void forget(String keyId) {
    byDigest.values().removeIf(e -> e.key().id().equals(keyId));
  }

  /** Drops every key. */
  public void clear() {
    byDigest.clear();
  }

  /** How many keys it holds now. */
  public int size() {
    return byDigest.size();
  }

  private static String digest(String token) {
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
