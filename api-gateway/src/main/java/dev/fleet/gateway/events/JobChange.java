package dev.fleet.gateway.events;

import dev.fleet.model.job.JobState;
import java.util.UUID;

/**
 * One change to one job, as the {@code jobs_notify} trigger announces it on channel {@code
 * job_events} (the JSON names are these components).
 *
 * @param previousState null for the insert
 * @param memoryClass the job's memory class by name ({@code vram-8g}); null in a notification from
 *     a database before {@code V7__job_events_queue_fields.sql}
 * @param ticket the job's queue ticket: the one it holds while QUEUED, and the last one it held
 *     after it left; null before it first entered the queue or in such an older notification
 */
public record JobChange(
    UUID id,
    JobState state,
    JobState previousState,
    int step,
    int steps,
    int attempts,
    boolean cancelRequested,
    long version,
    String memoryClass,
    Long ticket) {

  /** True when the state moved (or the job appeared); false for progress and flags. */
  public boolean stateChanged() {
    return state != previousState;
  }

  /** True when the job entered the queue or left it. */
  public boolean queueMembershipChanged() {
    return (state == JobState.QUEUED) != (previousState == JobState.QUEUED);
  }
}
