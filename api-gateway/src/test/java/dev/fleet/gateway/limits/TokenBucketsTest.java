package dev.fleet.gateway.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TokenBucketsTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void aBurstThenTheRateAndEachNameItsOwnBucket() {
    AtomicLong now = new AtomicLong(0);
    TokenBuckets buckets = new TokenBuckets(now::get);
    for (int i = 0; i < 3; i++) {
      assertEquals(0, buckets.take("a", 2, 3));
    }
    assertEquals(SECOND / 2, buckets.take("a", 2, 3), "half a second until the next token");
    assertEquals(0, buckets.take("b", 2, 3));
    now.addAndGet(SECOND / 2);
    assertEquals(0, buckets.take("a", 2, 3));
    assertEquals(SECOND / 2, buckets.take("a", 2, 3));
    now.addAndGet(100 * SECOND); // refills to the burst, no more
    for (int i = 0; i < 3; i++) {
      assertEquals(0, buckets.take("a", 2, 3));
    }
    assertEquals(SECOND / 2, buckets.take("a", 2, 3));
    assertEquals(0, buckets.take("c", 0, 1), "rate 0: no limit");
  }
}
