package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.Residency;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The fallback between plans, on stages that only count (no model, no device): what any model
 * family gets from the ladder.
 */
class PlanLadderTest {
  private static final long BUDGET = 1 << 30;

  private static ExecutionPlan plan(String name) {
    return new ExecutionPlan(name, 0, 0, Residency.STAGED, Residency.STAGED, 0, 0, BUDGET);
  }

  private static final List<ExecutionPlan> PLANS =
      List.of(plan("fast"), plan("lean"), plan("leanest"));

  private static final GenerationSpec SPEC =
      new GenerationSpec("a fox", 1, 4, 64, 64, 0, "tiny", List.of());

  /** Stages whose loads and runs fail with a memory failure for the plans named. */
  private static final class Stages implements PlanStages<Stages.Loaded> {
    final Set<String> loadFails = new HashSet<>();
    final Set<String> runFails = new HashSet<>();
    final List<String> log = new ArrayList<>();
    int open;

    record Loaded(ExecutionPlan plan, Stages owner) implements PlanStages.Loaded {
      @Override
      public void cancelPrefetch() {
        owner.log.add("cancel " + plan.name());
      }

      @Override
      public void close() {
        owner.open--;
        owner.log.add("close " + plan.name());
      }
    }

    @Override
    public Loaded load(ExecutionPlan plan) {
      log.add("load " + plan.name());
      if (loadFails.contains(plan.name())) {
        throw new BudgetExceededException(plan.name(), 2, 0, 1);
      }
      open++;
      return new Loaded(plan, this);
    }

    @Override
    public PlannedGeneration run(
        Loaded loaded,
        GenerationSpec spec,
        float[] noise,
        GenerationListener listener,
        List<PlanEvent> events,
        LoraStack loras) {
      log.add("run " + loaded.plan().name());
      if (runFails.contains(loaded.plan().name())) {
        throw new BudgetExceededException("activations", 2, 0, 1);
      }
      return new PlannedGeneration(
          null, loaded.plan(), events, new long[0], 0, 0, BUDGET, List.of());
    }
  }

  private static PlanLadder<Stages.Loaded> ladder(Stages stages, List<PlanEvent> heard) {
    return new PlanLadder<>(PLANS, stages, ExecutionOptions.defaults().withListener(heard::add));
  }

  @Test
  void theFirstPlanThatLoadsIsTaken() {
    Stages stages = new Stages();
    stages.loadFails.add("fast");
    List<PlanEvent> heard = new ArrayList<>();
    PlanLadder<Stages.Loaded> ladder = ladder(stages, heard);
    ladder.loadFirst();
    assertEquals("lean", ladder.loaded().plan().name());
    assertEquals(
        List.of(PlanEvent.Kind.LOAD_FELL_BACK), heard.stream().map(PlanEvent::kind).toList());
    ladder.close();
    assertEquals(0, stages.open);
  }

  @Test
  void aJobOutOfMemoryRunsAgainUnderTheNextPlan() {
    Stages stages = new Stages();
    stages.runFails.add("fast");
    List<PlanEvent> heard = new ArrayList<>();
    PlanLadder<Stages.Loaded> ladder = ladder(stages, heard);
    ladder.loadFirst();
    PlannedGeneration g = ladder.generate(SPEC, null, GenerationListener.NONE, LoraStack.NONE);
    assertEquals("lean", g.plan().name());
    assertEquals(1, g.events().size());
    assertEquals(PlanEvent.Kind.JOB_RETRIED, g.events().get(0).kind());
    assertEquals("fast", g.events().get(0).fromPlan());
    assertEquals(
        List.of("load fast", "run fast", "cancel fast", "close fast", "load lean", "run lean"),
        stages.log);
    assertEquals(1, stages.open, "only the plan in force stays loaded");
  }

  @Test
  void aFailedRetryFailsTheJobAndLeavesTheLeanerPlanLoaded() {
    Stages stages = new Stages();
    stages.runFails.addAll(List.of("fast", "lean"));
    PlanLadder<Stages.Loaded> ladder = ladder(stages, new ArrayList<>());
    ladder.loadFirst();
    GenerationOutOfMemoryException e =
        assertThrows(
            GenerationOutOfMemoryException.class,
            () -> ladder.generate(SPEC, null, GenerationListener.NONE, LoraStack.NONE));
    assertTrue(e.getMessage().contains("under plan fast and again under lean"), e.getMessage());
    assertEquals("leanest", ladder.loaded().plan().name());
    assertEquals(
        "leanest",
        ladder.generate(SPEC, null, GenerationListener.NONE, LoraStack.NONE).plan().name());
  }

  @Test
  void plansMustShareOneBudget() {
    var mixed =
        List.of(
            plan("fast"),
            new ExecutionPlan("other", 0, 0, Residency.STAGED, Residency.STAGED, 0, 0, 2));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PlanLadder.budgetOf(mixed));
    assertTrue(e.getMessage().contains("share one device budget"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> PlanLadder.budgetOf(List.of()));
  }
}
