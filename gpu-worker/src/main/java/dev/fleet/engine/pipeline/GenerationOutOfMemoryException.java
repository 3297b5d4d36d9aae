package dev.fleet.engine.pipeline;

import java.util.List;

/**
 * A job that ran out of device memory under its plan and again on its retry under the next one. The
 * pipeline is still usable; the caller decides whether the job goes back to the queue.
 */
public class GenerationOutOfMemoryException extends RuntimeException {
  private final transient List<PlanEvent> events;

  public GenerationOutOfMemoryException(String message, List<PlanEvent> events, Throwable cause) {
    super(message, cause);
    this.events = List.copyOf(events);
  }

  /** The plan changes this job went through. */
  public List<PlanEvent> events() {
    return events;
  }
}
