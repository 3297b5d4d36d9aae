package dev.fleet.gateway.events;

import dev.fleet.model.job.JobState;
import java.util.UUID;

/**
 * One change to one job, as the {@code jobs_notify} trigger announces it on channel {@code
 * job_events} (the JSON names are these components).
 *
 * @param previousState null for the insert
 */
public record JobChange(
    UUID id,
    JobState state,
    JobState previousState,
    int step,
    int steps,
    int attempts,
    boolean cancelRequested,
    long version) {

  /** True when the state moved (or the job appeared); false for progress and flags. */
  public boolean stateChanged() {
    return state != previousState;
  }
}
