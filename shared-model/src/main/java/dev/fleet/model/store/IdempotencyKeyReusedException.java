package dev.fleet.model.store;

import java.util.UUID;

/** An idempotency key came back with a different request than the one it first named. */
public class IdempotencyKeyReusedException extends RuntimeException {
  private final UUID existingJob;

  public IdempotencyKeyReusedException(String key, UUID existingJob) {
    super(
        "the Idempotency-Key '" + key + "' was used for another request (job " + existingJob + ")");
    this.existingJob = existingJob;
  }

  public UUID existingJob() {
    return existingJob;
  }
}
