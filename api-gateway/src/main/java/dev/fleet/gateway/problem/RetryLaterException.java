package dev.fleet.gateway.problem;

/** A 429: the problem, and the seconds after which the client may try again (Retry-After). */
public class RetryLaterException extends ProblemException {
  private final long retryAfterSeconds;

  public RetryLaterException(Problem problem, long retryAfterSeconds) {
    super(problem);
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
