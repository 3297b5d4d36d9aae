package dev.fleet.worker;

import dev.fleet.engine.pipeline.PlanEvent;
import dev.fleet.engine.pipeline.PlanListener;
import io.micrometer.core.instrument.MeterRegistry;
import org.jboss.logging.Logger;

/**
 * Records every change of memory plan (a plan that did not load, a job retried under a leaner plan,
 * a retry that failed too): a warning in the log and a count in {@value #METRIC}, by kind.
 */
final class PlanEventLog implements PlanListener {
  static final String METRIC = "fleet.worker.plan.fallbacks";
  private static final Logger LOG = Logger.getLogger(PlanEventLog.class);

  private final MeterRegistry metrics;
  private final String memoryClass;

  PlanEventLog(MeterRegistry metrics, String memoryClass) {
    this.metrics = metrics;
    this.memoryClass = memoryClass;
  }

  @Override
  public void onEvent(PlanEvent event) {
    LOG.warnf(
        "memory plan %s: %s -> %s (%s)",
        event.kind(), event.fromPlan(), event.toPlan(), event.cause());
    metrics.counter(METRIC, "kind", event.kind().name(), "class", memoryClass).increment();
  }
}
