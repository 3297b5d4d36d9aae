package dev.fleet.engine.pipeline;

import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.MemoryFailure;
import dev.fleet.model.GenerationSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Execution plans fastest first, and the fallback between them, whatever the model family: the
 * first plan whose resident weights fit is loaded; a job that runs out of memory (a refused
 * booking, or the device's own out-of-memory error) has its arrays freed with it, the device caches
 * are released, the next plan is loaded and the job is run once more, from its seed, so the result
 * is what the first attempt would have produced. Each such change is a {@link PlanEvent}, returned
 * with the result and told to the {@link PlanListener}. A failed retry ends in a {@link
 * GenerationOutOfMemoryException}; the ladder stays usable on the more frugal plan.
 *
 * @param <L> what one plan keeps loaded
 */
public final class PlanLadder<L extends PlanStages.Loaded> implements AutoCloseable {
  private final List<ExecutionPlan> plans;
  private final PlanStages<L> stages;
  private final ExecutionOptions options;
  private int planIndex = -1;
  private L loaded;

  /**
   * @param plans fastest first, all with the same budget (the device's)
   */
  public PlanLadder(List<ExecutionPlan> plans, PlanStages<L> stages, ExecutionOptions options) {
    this.plans = List.copyOf(plans);
    this.stages = stages;
    this.options = options;
    budgetOf(plans);
  }

  /**
   * The device budget the plans share.
   *
   * @throws IllegalArgumentException when there are none, or they differ
   */
  public static long budgetOf(List<ExecutionPlan> plans) {
    if (plans.isEmpty()) {
      throw new IllegalArgumentException("a planned pipeline needs at least one execution plan");
    }
    long budget = plans.get(0).budgetBytes();
    for (ExecutionPlan p : plans) {
      if (p.budgetBytes() != budget) {
        throw new IllegalArgumentException(
            "plans must share one device budget: "
                + plans.get(0).name()
                + " has "
                + budget
                + " bytes, "
                + p.name()
                + " has "
                + p.budgetBytes());
      }
    }
    return budget;
  }

  /** Loads the first plan that fits. */
  public synchronized void loadFirst() {
    loadFrom(0, new ArrayList<>());
  }

  /** What the plan in force keeps loaded. */
  public synchronized L loaded() {
    return loaded;
  }

  /** Loads the first plan from {@code first} on whose resident weights fit. */
  private void loadFrom(int first, List<PlanEvent> events) {
    RuntimeException last = null;
    for (int i = first; i < plans.size(); i++) {
      try {
        loaded = stages.load(plans.get(i));
        planIndex = i;
        return;
      } catch (RuntimeException e) {
        if (!MemoryFailure.isMemoryFailure(e)) {
          throw e;
        }
        last = e;
        String next = i + 1 < plans.size() ? plans.get(i + 1).name() : "none";
        event(events, PlanEvent.Kind.LOAD_FELL_BACK, plans.get(i).name(), next, e);
        options.releaseDeviceCaches().run();
      }
    }
    throw last;
  }

  /**
   * One job, retried once under the next plan if it runs out of memory.
   *
   * @throws GenerationOutOfMemoryException when the retry runs out of memory too
   */
  public synchronized PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras) {
    List<PlanEvent> events = new ArrayList<>();
    try {
      return stages.run(loaded, spec, noise, listener, events, loras);
    } catch (RuntimeException first) {
      if (!MemoryFailure.isMemoryFailure(first)) {
        throw first;
      }
      String from = loaded.plan().name();
      fallBack(events);
      event(events, PlanEvent.Kind.JOB_RETRIED, from, loaded.plan().name(), first);
      try {
        return stages.run(loaded, spec, noise, listener, events, loras);
      } catch (RuntimeException second) {
        if (!MemoryFailure.isMemoryFailure(second)) {
          throw second;
        }
        String retried = loaded.plan().name();
        fallBack(events);
        event(events, PlanEvent.Kind.RETRY_FAILED, retried, loaded.plan().name(), second);
        GenerationOutOfMemoryException e =
            new GenerationOutOfMemoryException(
                "out of device memory under plan "
                    + from
                    + " and again under "
                    + retried
                    + ": "
                    + second.getMessage(),
                events,
                second);
        e.addSuppressed(first);
        throw e;
      }
    }
  }

  /**
   * After an out-of-memory failure (the job's arrays and bookings are gone with its scope): frees
   * the device caches and takes the next plan, or keeps the last one when there is none.
   */
  private void fallBack(List<PlanEvent> events) {
    loaded.cancelPrefetch();
    options.releaseDeviceCaches().run();
    if (planIndex + 1 >= plans.size()) {
      return;
    }
    int failed = planIndex;
    loaded.close();
    loaded = null;
    try {
      loadFrom(failed + 1, events);
    } catch (RuntimeException e) {
      // Not even the more frugal plans load now: go back to the one that loaded before.
      loadFrom(failed, events);
    }
  }

  private void event(
      List<PlanEvent> events, PlanEvent.Kind kind, String from, String to, Throwable cause) {
    PlanEvent e = new PlanEvent(kind, from, to, String.valueOf(cause.getMessage()));
    events.add(e);
    options.listener().onEvent(e);
  }

  @Override
  public synchronized void close() {
    if (loaded != null) {
      loaded.close();
      loaded = null;
    }
  }
}
