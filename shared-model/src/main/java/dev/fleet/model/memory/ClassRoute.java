package dev.fleet.model.memory;

import dev.fleet.model.job.MemoryClass;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a job goes: the smallest memory class under whose budget the planner finds a plan, or
 * nowhere, with the numbers. The gateway routes with this and workers admit with the same planner,
 * so a routed job has a fitting plan on the worker that takes it.
 */
public sealed interface ClassRoute {

  /** The decision for the class the job goes to, or for the largest class when it fits none. */
  PlanDecision decision();

  /** The job fits {@code memoryClass}, the smallest class that holds it. */
  record Fits(MemoryClass memoryClass, PlanDecision decision) implements ClassRoute {
    public Fits {
      Objects.requireNonNull(memoryClass, "memoryClass");
      if (!decision.fits()) {
        throw new IllegalArgumentException("a fitting route needs a fitting plan");
      }
    }

    public Plan plan() {
      return decision.chosen();
    }
  }

  /** No class holds the job: even its leanest plan needs more than {@code largest} has. */
  record TooLarge(MemoryClass largest, PlanDecision decision) implements ClassRoute {
    public TooLarge {
      Objects.requireNonNull(largest, "largest");
      if (decision.fits()) {
        throw new IllegalArgumentException("a refusal needs a decision where nothing fits");
      }
    }

    /** The smallest budget the job would fit in, reserve included. */
    public long neededBytes() {
      return decision.neededBytes();
    }

    /** A sentence for the user: needed against the largest class, and what to change. */
    public String explain(Workload workload) {
      String what =
          workload.batch() == 1
              ? workload.width() + "x" + workload.height()
              : workload.batch() + " images of " + workload.width() + "x" + workload.height();
      Plan leanest = decision.leanest();
      return String.format(
          Locale.ROOT,
          "%s needs %s of GPU memory even under its leanest plan (%s: %s peak in %s + %s"
              + " reserve), but the largest class %s has %s: make the image smaller",
          what,
          ByteSize.gib(neededBytes()),
          leanest.name(),
          ByteSize.gib(leanest.predictedPeakBytes()),
          leanest.peakPhase().label(),
          ByteSize.gib(decision.reserveBytes()),
          largest.className(),
          ByteSize.gib(largest.budgetBytes()));
    }
  }

  /** Routes {@code workload} on {@code model} to the smallest memory class that holds it. */
  static ClassRoute of(ModelDims model, Workload workload, Hardware hardware) {
    PlanDecision decision = null;
    for (MemoryClass c : MemoryClass.bySize()) {
      decision = Planner.plan(model, workload, c.budgetBytes(), hardware);
      if (decision.fits()) {
        return new Fits(c, decision);
      }
    }
    return new TooLarge(MemoryClass.largest(), decision);
  }
}
