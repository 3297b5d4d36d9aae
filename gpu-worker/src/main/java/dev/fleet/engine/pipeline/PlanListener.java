package dev.fleet.engine.pipeline;

/** Hears every {@link PlanEvent} of a {@link PlannedPipeline} as it happens (e.g. to log it). */
@FunctionalInterface
public interface PlanListener {
  void onEvent(PlanEvent event);

  PlanListener NONE = e -> {};
}
