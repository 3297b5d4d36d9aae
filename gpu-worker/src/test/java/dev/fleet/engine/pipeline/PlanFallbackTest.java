package dev.fleet.engine.pipeline;

import static dev.fleet.testing.ImageAssert.assertClose;
import static dev.fleet.testing.ImageAssert.assertPngClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.Residency;
import dev.fleet.testing.ImageAssert;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Out of memory mid-job (simulated on CPU: a ledger budget, an injected device error): the job is
 * retried once under the next plan, gives the result a normal run gives, and leaks nothing.
 *
 * <p>"The result a normal run gives": another plan is another code path (streamed blocks, tiled
 * decode, chunked attention), so the image is compared with {@link ImageAssert} (every channel
 * within ±1, 99 % of the pixels identical); the same plan run twice gives the same bytes.
 */
class PlanFallbackTest {
  private static final long GIB = 1L << 30;

  static ModelDirectory model;
  static GenerationSpec spec;
  static GeneratedImage normal;

  @BeforeAll
  static void runNormally() {
    model = ModelDirectory.resolve(Fixtures.MODEL, null);
    spec = PlanRecorder.fixtureCase();
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(ExecutionPlan.allResident(GIB)),
            ExecutionOptions.defaults())) {
      normal = p.generate(spec, GenerationListener.NONE).image();
    }
  }

  private static ExecutionPlan fast(long budget) {
    return new ExecutionPlan(
        "fast",
        Integer.MAX_VALUE,
        Integer.MAX_VALUE,
        Residency.RESIDENT,
        Residency.RESIDENT,
        0,
        0,
        budget);
  }

  private static ExecutionPlan frugal(long budget) {
    return new ExecutionPlan("frugal", 0, 0, Residency.STAGED, Residency.RESIDENT, 4, 8, budget);
  }

  private static long peak(ExecutionPlan plan) {
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model, ComputeTarget.cpu(), List.of(plan), ExecutionOptions.defaults())) {
      return p.generate(spec, GenerationListener.NONE).peakBytes();
    }
  }

  @Test
  void budgetTooSmallForTheFirstPlanRetriesUnderTheSecond() {
    long fastPeak = peak(fast(GIB));
    long frugalPeak = peak(frugal(GIB));
    System.out.printf("booked peaks: fast %d B, frugal %d B%n", fastPeak, frugalPeak);
    assertTrue(frugalPeak < fastPeak, "the frugal plan must need less");
    long budget = frugalPeak;
    List<PlanEvent> heard = new ArrayList<>();
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(fast(budget), frugal(budget)),
            ExecutionOptions.defaults().withListener(heard::add))) {
      assertEquals("fast", p.currentPlan().name(), "the fast plan's weights fit: it loads");
      long residentFast = p.ledger().inUseBytes();
      PlannedGeneration g = p.generate(spec, GenerationListener.NONE);
      assertTrue(g.retried());
      assertEquals("frugal", g.plan().name());
      assertEquals(1, g.events().size());
      PlanEvent e = g.events().get(0);
      assertEquals(PlanEvent.Kind.JOB_RETRIED, e.kind());
      assertEquals("fast", e.fromPlan());
      assertEquals("frugal", e.toPlan());
      assertTrue(e.cause().contains("device budget exceeded"), e.cause());
      assertEquals(g.events(), heard);
      assertClose(normal.rgb(), g.image().rgb(), normal.width(), "the retry vs a normal run");
      assertPngClose(normal.png(), g.image().png(), "the retry's PNG vs a normal run's");
      assertTrue(g.peakBytes() <= budget);
      // Nothing leaked: no job arrays, only the frugal plan's resident weights booked.
      assertEquals(0, p.liveJobArrays());
      assertTrue(p.ledger().inUseBytes() < residentFast, p.ledger().liveBookings().toString());
      // The pipeline stays on the frugal plan: the next job runs without a retry.
      PlannedGeneration next = p.generate(spec, GenerationListener.NONE);
      assertTrue(next.events().isEmpty());
      // The same (frugal) plan twice in one process: exact on any CPU.
      assertArrayEquals(g.image().png(), next.image().png(), "the frugal plan again: same bytes");
    }
  }

  @Test
  void injectedDeviceOutOfMemoryIsRetriedUnderTheNextPlan() {
    AtomicInteger copies = new AtomicInteger();
    HostToDevice failingOnce =
        (host, device) -> {
          if (copies.incrementAndGet() == 7) {
            throw new EngineException(
                "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)");
          }
          return HostToDevice.synchronous().begin(host, device);
        };
    AtomicInteger cacheReleases = new AtomicInteger();
    ExecutionPlan half =
        new ExecutionPlan("half-streamed", 1, 1, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    ExecutionPlan full =
        new ExecutionPlan(
            "fully-streamed", 0, 0, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(half, full),
            ExecutionOptions.defaults()
                .withHostToDevice(failingOnce)
                .withReleaseDeviceCaches(cacheReleases::incrementAndGet))) {
      PlannedGeneration g = p.generate(spec, GenerationListener.NONE);
      assertTrue(g.retried());
      assertEquals(full, g.plan());
      assertEquals(full, p.currentPlan());
      assertTrue(g.events().get(0).cause().contains("CUDA out of memory"));
      assertEquals(1, cacheReleases.get(), "device caches released before the retry");
      assertClose(normal.rgb(), g.image().rgb(), normal.width(), "fully streamed retry");
      assertEquals(0, p.liveJobArrays());
      List<String> booked = p.ledger().liveBookings();
      assertTrue(
          booked.stream().noneMatch(b -> b.contains("streamed") || b.contains("job")),
          "job bookings left: " + booked);
    }
  }

  @Test
  void aFailedRetryThrowsButThePipelineStaysUsable() {
    AtomicBoolean broken = new AtomicBoolean(false);
    HostToDevice flaky =
        (host, device) -> {
          if (broken.get()) {
            throw new EngineException("CUDA error: out of memory");
          }
          return HostToDevice.synchronous().begin(host, device);
        };
    ExecutionPlan half =
        new ExecutionPlan("half-streamed", 1, 1, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    ExecutionPlan full =
        new ExecutionPlan(
            "fully-streamed", 0, 0, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(half, full),
            ExecutionOptions.defaults().withHostToDevice(flaky))) {
      long before = p.ledger().inUseBytes();
      broken.set(true);
      GenerationOutOfMemoryException e =
          assertThrows(
              GenerationOutOfMemoryException.class,
              () -> p.generate(spec, GenerationListener.NONE));
      assertEquals(
          List.of(PlanEvent.Kind.JOB_RETRIED, PlanEvent.Kind.RETRY_FAILED),
          e.events().stream().map(PlanEvent::kind).toList());
      assertEquals(0, p.liveJobArrays());
      assertTrue(p.ledger().inUseBytes() <= before, p.ledger().liveBookings().toString());
      broken.set(false);
      PlannedGeneration g = p.generate(spec, GenerationListener.NONE);
      assertEquals("fully-streamed", g.plan().name());
      assertClose(normal.rgb(), g.image().rgb(), normal.width(), "after a failed retry");
    }
  }

  @Test
  void otherFailuresAreNotRetried() {
    AtomicInteger runs = new AtomicInteger();
    HostToDevice broken =
        (host, device) -> {
          runs.incrementAndGet();
          throw new EngineException("CUDA error: an illegal memory access was encountered");
        };
    ExecutionPlan full =
        new ExecutionPlan(
            "fully-streamed", 0, 0, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(full, full),
            ExecutionOptions.defaults().withHostToDevice(broken))) {
      EngineException e =
          assertThrows(EngineException.class, () -> p.generate(spec, GenerationListener.NONE));
      assertTrue(e.getMessage().contains("illegal memory access"));
      assertEquals(1, runs.get(), "not retried");
      GenerationListener cancelling =
          new GenerationListener() {
            @Override
            public boolean cancelled() {
              return true;
            }
          };
      assertThrows(GenerationCancelledException.class, () -> p.generate(spec, cancelling));
      assertEquals(0, p.liveJobArrays());
    }
  }

  @Test
  void aPlanThatCannotLoadFallsBackAtLoad() {
    // The fast plan copies its resident blocks at load; the device refuses the first copy.
    AtomicInteger copies = new AtomicInteger();
    HostToDevice refusingFirst =
        (host, device) -> {
          if (copies.incrementAndGet() == 1) {
            throw new EngineException("CUDA out of memory. Tried to allocate 1.00 MiB");
          }
          return HostToDevice.synchronous().begin(host, device);
        };
    ExecutionPlan full =
        new ExecutionPlan(
            "fully-streamed", 0, 0, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
    List<PlanEvent> heard = new ArrayList<>();
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(fast(GIB), full),
            ExecutionOptions.defaults().withHostToDevice(refusingFirst).withListener(heard::add))) {
      assertEquals(full, p.currentPlan());
      assertEquals(1, heard.size());
      assertEquals(PlanEvent.Kind.LOAD_FELL_BACK, heard.get(0).kind());
      assertEquals("fast", heard.get(0).fromPlan());
      assertEquals("fully-streamed", heard.get(0).toPlan());
      assertTrue(
          p.ledger().liveBookings().stream()
              .noneMatch(b -> b.contains("resident") && b.contains("blocks")),
          "the failed plan's blocks were released: " + p.ledger().liveBookings());
      assertClose(
          normal.rgb(),
          p.generate(spec, GenerationListener.NONE).image().rgb(),
          normal.width(),
          "the plan fallen back to at load");
    }
  }

  @Test
  void whenNoPlanLoadsTheLoadFailsWithTheNumbers() {
    // Room for the autoencoder (booked with the pipeline) and 1000 bytes: no DiT fits.
    long budget =
        ParameterBytes.of(dev.fleet.engine.vae.VaeLoader.findCheckpoint(Fixtures.MODEL), 4) + 1000;
    List<PlanEvent> heard = new ArrayList<>();
    BudgetExceededException e =
        assertThrows(
            BudgetExceededException.class,
            () ->
                PlannedPipeline.load(
                        model,
                        ComputeTarget.cpu(),
                        List.of(fast(budget), frugal(budget)),
                        ExecutionOptions.defaults().withListener(heard::add))
                    .close());
    assertEquals(budget, e.budgetBytes());
    assertTrue(e.getMessage().contains("needs"), e.getMessage());
    assertEquals(2, heard.size());
    assertTrue(heard.stream().allMatch(ev -> ev.kind() == PlanEvent.Kind.LOAD_FELL_BACK));
  }
}
