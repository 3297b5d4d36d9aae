package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fleet.engine.pipeline.PlanEvent;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

class PlanEventLogTest {

  @Test
  void everyPlanChangeIsCountedByKind() {
    SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    PlanEventLog log = new PlanEventLog(metrics, "vram-8g");
    log.onEvent(new PlanEvent(PlanEvent.Kind.LOAD_FELL_BACK, "all-resident", "dit-partial", "x"));
    log.onEvent(new PlanEvent(PlanEvent.Kind.JOB_RETRIED, "dit-partial", "dit-streamed", "y"));
    log.onEvent(new PlanEvent(PlanEvent.Kind.JOB_RETRIED, "dit-streamed", "dit-streamed", "z"));
    assertEquals(1, count(metrics, PlanEvent.Kind.LOAD_FELL_BACK));
    assertEquals(2, count(metrics, PlanEvent.Kind.JOB_RETRIED));
    assertEquals(0, count(metrics, PlanEvent.Kind.RETRY_FAILED));
  }

  private static double count(SimpleMeterRegistry metrics, PlanEvent.Kind kind) {
    var c =
        metrics.find(PlanEventLog.METRIC).tags("kind", kind.name(), "class", "vram-8g").counter();
    return c == null ? 0 : c.count();
  }
}
