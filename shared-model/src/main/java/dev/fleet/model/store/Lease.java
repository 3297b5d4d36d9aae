package dev.fleet.model.store;

import java.util.Objects;
import java.util.UUID;

/**
 * One run's hold on a running job, from {@link JobStore#start}: only the run whose token the job
 * row still carries may finish the job ({@link JobStore#succeed(Lease, String, long)}, {@link
 * JobStore#fail(Lease, String, String)}), and it keeps the lease by heartbeating ({@link
 * JobStore#heartbeat}). Another start of the job (a redelivery), a re-queue or the reaper ({@link
 * JobStore#requeueExpired}) gives the job a new token or none, and the old run's writes are
 * refused.
 *
 * @param token unique per run: it also names the run's result object, so that two runs of one job
 *     never write the same object
 */
public record Lease(UUID jobId, int attempt, String worker, UUID token) {
  public Lease {
    Objects.requireNonNull(jobId, "jobId");
    Objects.requireNonNull(worker, "worker");
    Objects.requireNonNull(token, "token");
  }

  /** The object key this run stores its image under: {@code <tenant>/<job-id>/<token>.png}. */
  public String resultKey(String tenant) {
    return tenant + "/" + jobId + "/" + token + ".png";
  }
}
