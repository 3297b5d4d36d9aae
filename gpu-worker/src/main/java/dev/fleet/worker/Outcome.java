package dev.fleet.worker;

/** How one delivery of a job ended on this worker. */
public enum Outcome {
  SUCCEEDED,
  FAILED,
  CANCELLED,
  TIMED_OUT,
  /** A transient fault: the job went back to the queue as its next attempt (or dead-lettered). */
  REQUEUED,
  /** Nothing to do: the job was finished, cancelled or taken by a newer attempt already. */
  SKIPPED,
  /**
   * The worker was draining and the job did not finish within the drain deadline: QUEUED again with
   * the same attempt, its message in the outbox.
   */
  HANDED_BACK,
  /**
   * The job was no longer this run's when it ended (its lease went to the reaper or another run, or
   * it was cancelled or timed out meanwhile): the stored state stands, this run's image is removed.
   */
  DISCARDED,
  /**
   * The job store stayed away past the retry patience before the run could take the job: nothing
   * changed, and the message must be delivered again.
   */
  NOT_TAKEN,
  /**
   * The runner itself broke after taking the job: the job stays RUNNING with its lease row, which
   * is no longer heartbeaten, and the gateway's reaper re-queues it once the lease expires.
   */
  ABANDONED
}
