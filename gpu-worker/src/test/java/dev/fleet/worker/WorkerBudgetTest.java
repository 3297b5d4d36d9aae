package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.pipeline.GenerationOutOfMemoryException;
import dev.fleet.engine.pipeline.PlanEvent;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker with a small device budget on real services: it loads the plan under which its largest
 * image (1024x1024) fits 1000 MiB, runs what fits and refuses what does not, with the numbers. It
 * serves vram-12g, so that its topic and consumer group are its own.
 */
@QuarkusTest
@TestProfile(WorkerBudgetTest.SmallBudget.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerBudgetTest {
  static final long BUDGET = 1000L << 20;
  static final MemoryClass CLASS = MemoryClass.VRAM_12G;

  /** 1000 MiB: the tiny model at 1024x1024 fits only in tiles and chunks, 2048x2048 not at all. */
  public static class SmallBudget implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of(
          "fleet.worker.budget",
          "1000MiB",
          "fleet.worker.memory-class",
          CLASS.className(),
          "fleet.jobs.max-attempts",
          "2");
    }
  }

  @Inject DataSource dataSource;
  @Inject ModelRuntime model;
  @Inject JobConsumer consumer;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String kafka;

  JobQueue queue;
  JobStore store;

  @BeforeEach
  void setUp() {
    queue = new JobQueue(dataSource, kafka, CLASS);
    store = queue.store;
  }

  @AfterEach
  void tearDown() {
    queue.close();
  }

  @Test
  void theWorkerLoadsTheFastestPlanThatHoldsItsLargestImage() {
    assertEquals(BUDGET, model.admission().budgetBytes());
    PlanDecision d = model.admission().plan(1024, 1024);
    List<ExecutionPlan> ladder = PlanMapping.fallbackLadder(d);
    assertEquals(ladder.get(0), model.pipeline().currentPlan());
    ExecutionPlan loaded = model.pipeline().currentPlan();
    assertTrue(loaded.tiledDecode() || loaded.chunkedAttention(), loaded.toString());
    assertEquals(BUDGET - d.reserveBytes(), model.pipeline().ledger().budgetBytes());
  }

  @Test
  void theWorkersRetryLimitIsTheFleetSetting() {
    assertEquals(2, consumer.store().maxAttempts(), "fleet.jobs.max-attempts reaches the worker");
  }

  @Test
  void aJobThatFitsTheBudgetRuns() {
    JobMessage m = queue.submit(new GenerationSpec("small", 5, 2, 64, 64, 3.5, "flux-tiny"));
    assertEquals(JobState.SUCCEEDED, queue.awaitState(m.jobId(), JobState.SUCCEEDED).state());
  }

  @Test
  void aJobNoPlanFitsFailsWithNeededAgainstTheBudget() {
    JobMessage m = queue.submit(new GenerationSpec("too big", 6, 2, 2048, 2048, 3.5, "flux-tiny"));
    Job failed = queue.awaitState(m.jobId(), JobState.FAILED);
    assertEquals("DOES_NOT_FIT", failed.errorCode());
    long needed = model.admission().plan(2048, 2048).neededBytes();
    assertTrue(needed > BUDGET);
    String why = failed.errorMessage();
    assertTrue(why.startsWith("2048x2048 needs"), why);
    assertTrue(why.contains("(" + needed + " bytes)"), why);
    assertTrue(why.contains("(" + BUDGET + " bytes)"), why);
    assertEquals(0, failed.step(), "refused before a step ran");
  }

  @Test
  void aJobOutOfMemoryEvenOnItsRetryGoesBackToTheQueue() {
    // Its own class, whose topic nobody consumes here: the runner is driven directly.
    GenerationSpec spec = new GenerationSpec("oom", 7, 2, 64, 64, 3.5, "flux-tiny");
    UUID id = UUID.randomUUID();
    store.insert(new NewJob(id, "t1", null, null, spec, MemoryClass.VRAM_16G, 1L << 30));
    Outcome outcome;
    try (LeaseKeeper leases = new LeaseKeeper(store, Duration.ofSeconds(10))) {
      JobRunner runner =
          new JobRunner(
              store,
              leases,
              Duration.ofSeconds(5),
              (key, png) -> {
                throw new AssertionError("nothing to upload");
              },
              (s, listener) -> {
                throw new GenerationOutOfMemoryException(
                    "out of device memory under plan a and again under b",
                    List.of(new PlanEvent(PlanEvent.Kind.RETRY_FAILED, "b", "b", "budget")),
                    new IllegalStateException("budget"));
              },
              model.admission(),
              "test-worker",
              "flux-tiny",
              Duration.ofMinutes(1),
              Duration.ofMillis(250),
              () -> false,
              Clock.systemUTC());
      outcome = runner.run(JobMessage.of(id, "t1", spec, MemoryClass.VRAM_16G, 1));
    }
    assertEquals(Outcome.REQUEUED, outcome);
    Job job = store.find(id).orElseThrow();
    assertEquals(JobState.QUEUED, job.state());
    assertEquals(2, job.attempts());
  }
}
