package dev.fleet.engine.pipeline;

/**
 * A change of memory plan and why: what the worker records when memory ran short.
 *
 * @param kind what happened
 * @param fromPlan the plan that failed
 * @param toPlan the plan used next (the same one when there is no more frugal plan)
 * @param cause the failure's message, with the numbers
 */
public record PlanEvent(Kind kind, String fromPlan, String toPlan, String cause) {

  public enum Kind {
    /** Loading a plan's resident weights did not fit: the next plan was loaded instead. */
    LOAD_FELL_BACK,
    /** A job ran out of memory: caches were freed, the next plan taken and the job run again. */
    JOB_RETRIED,
    /** The retry ran out of memory too: the job failed (the pipeline stays usable). */
    RETRY_FAILED
  }
}
