package dev.fleet.gateway.limits;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.LongSupplier;

/**
 * One token bucket per name (an API key's id): {@code burst} tokens, refilled at {@code rate} per
 * second; a request takes one. In this process's memory: with several gateways, each allows the
 * rate (the active-jobs cap, in PostgreSQL, holds for all of them together).
 */
public final class TokenBuckets {
  private static final long NANOS = 1_000_000_000L;
  private static final int MAX_BUCKETS = 100_000;

  private final LongSupplier clock;
  private final ConcurrentMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  public TokenBuckets() {
    this(System::nanoTime);
  }

  /** With the given clock (nanoseconds), for tests. */
  public TokenBuckets(LongSupplier clock) {
    this.clock = clock;
  }

  /**
   * Takes a token from {@code name}'s bucket.
   *
   * @return 0 when one was taken; otherwise the nanoseconds until one will be there
   */
  public long take(String name, double rate, int burst) {
    if (rate <= 0) {
      return 0;
    }
    if (buckets.size() > MAX_BUCKETS) {
      buckets.clear(); // a safety valve: keys are few, but every bucket costs memory
    }
    long now = clock.getAsLong();
    Bucket bucket = buckets.computeIfAbsent(name, k -> new Bucket(Math.max(1, burst), now));
    return bucket.take(now, rate, Math.max(1, burst));
  }

  private static final class Bucket {
    private double tokens;
    private long updated;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.updated = now;
    }

    synchronized long take(long now, double rate, int burst) {
      tokens = Math.min(burst, tokens + (now - updated) * rate / NANOS);
      updated = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return (long) Math.ceil((1 - tokens) * NANOS / rate);
    }
  }
}
