package dev.fleet.gateway.limits;

import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.RetryLaterException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Locale;

/** The per-key submission rate ({@link LimitsConfig#submitRate()}): a 429 when it is exceeded. */
@ApplicationScoped
public class SubmitLimiter {
  private final LimitsConfig limits;
  private final TokenBuckets buckets = new TokenBuckets();

  public SubmitLimiter(LimitsConfig limits) {
    this.limits = limits;
  }

  /**
   * Counts one submission of key {@code keyId} (of {@code tenant}).
   *
   * @throws RetryLaterException the key submitted faster than its rate allows
   */
  public void admit(String keyId, String tenant) {
    double rate = limits.submitRate(tenant);
    int burst = limits.submitBurst(tenant);
    long waitNanos = buckets.take(keyId, rate, burst);
    if (waitNanos > 0) {
      long seconds = (waitNanos + 999_999_999L) / 1_000_000_000L;
      throw new RetryLaterException(
          new Problem(
              Problem.RATE_LIMITED,
              "Too many submissions",
              429,
              String.format(
                  Locale.ROOT,
                  "this API key may submit %s jobs per second (bursts of %d); retry in %d s",
                  rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate),
                  burst,
                  seconds),
              null),
          seconds);
    }
  }
}
