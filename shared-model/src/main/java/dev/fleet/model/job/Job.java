package dev.fleet.model.job;

import dev.fleet.model.GenerationSpec;
import java.time.Instant;
import java.util.UUID;

/**
 * A job as the store holds it: the spec, where it was routed, and how far it got.
 *
 * @param step the last step a worker reported, 0 before the first
 * @param attempts the number of the current (or last) attempt, 1 for the first delivery
 * @param version bumped on every change; the same number travels in the change notification
 */
public record Job(
    UUID id,
    String tenant,
    String idempotencyKey,
    GenerationSpec spec,
    MemoryClass memoryClass,
    long predictedPeakBytes,
    JobState state,
    int step,
    int steps,
    int attempts,
    String worker,
    boolean cancelRequested,
    String resultKey,
    Long resultBytes,
    String errorCode,
    String errorMessage,
    Instant createdAt,
    Instant startedAt,
    Instant finishedAt,
    Instant updatedAt,
    long version) {

  /** The message that hands this job's current attempt to a worker. */
  public JobMessage message() {
    return JobMessage.of(id, tenant, spec, memoryClass, attempts);
  }
}
