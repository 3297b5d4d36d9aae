package dev.fleet.model.store;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.MemoryClass;
import java.net.URI;
import java.util.Objects;
import java.util.UUID;

/**
 * A job to insert: a validated spec already routed to a memory class.
 *
 * @param idempotencyKey the client's key, unique per tenant; null for none
 * @param requestFingerprint a hash of the request as sent, compared when the key is reused
 * @param webhook where the job's terminal event is POSTed (already checked against the gateway's
 *     policy); null for none
 */
public record NewJob(
    UUID id,
    String tenant,
    String idempotencyKey,
    String requestFingerprint,
    GenerationSpec spec,
    MemoryClass memoryClass,
    long predictedPeakBytes,
    URI webhook) {

  /** A job without a webhook. */
  public NewJob(
      UUID id,
      String tenant,
      String idempotencyKey,
      String requestFingerprint,
      GenerationSpec spec,
      MemoryClass memoryClass,
      long predictedPeakBytes) {
    this(
        id,
        tenant,
        idempotencyKey,
        requestFingerprint,
        spec,
        memoryClass,
        predictedPeakBytes,
        null);
  }

  public NewJob {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(memoryClass, "memoryClass");
  }
}
