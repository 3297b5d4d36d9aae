package dev.fleet.worker;

import dev.fleet.model.store.JobStoreException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * What a run cannot skip — taking the job, uploading its image, storing its terminal state —
 * retried with backoff while a service is away (a database restart or failover, an S3 outage) for
 * up to {@code patience}. Every job-store write is a guarded transition, so repeating one whose
 * commit was lost in transit changes nothing twice; callers that need to know whether an earlier
 * try applied read the job back.
 */
final class Retry {
  private static final Logger LOG = Logger.getLogger(Retry.class);
  private static final Duration FIRST = Duration.ofMillis(200);
  private static final Duration MAX = Duration.ofSeconds(5);

  private final Duration patience;

  Retry(Duration patience) {
    this.patience = patience;
  }

  /**
   * Runs {@code write} until it returns, retrying a {@link JobStoreException}.
   *
   * @throws JobStoreException the last failure, once {@code patience} has passed
   */
  <T> T store(String what, Supplier<T> write) {
    try {
      return call(what, write::get, e -> e instanceof JobStoreException);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e); // a Supplier throws no checked exception
    }
  }

  /**
   * Runs {@code op} until it returns, retrying any exception; the last one once out of patience.
   */
  <T> T call(String what, Callable<T> op) throws Exception {
    return call(what, op, e -> true);
  }

  private <T> T call(String what, Callable<T> op, Predicate<Exception> retryable) throws Exception {
    long deadline = System.nanoTime() + patience.toNanos();
    Duration wait = FIRST;
    for (int tries = 1; ; tries++) {
      try {
        return op.call();
      } catch (Exception e) {
        if (!retryable.test(e) || System.nanoTime() + wait.toNanos() > deadline) {
          throw e;
        }
        if (tries == 1) {
          LOG.warnf("%s failed, retrying for up to %s: %s", what, patience, e.getMessage());
        }
        try {
          Thread.sleep(wait);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
        wait = wait.multipliedBy(2).compareTo(MAX) > 0 ? MAX : wait.multipliedBy(2);
      }
    }
  }
}
