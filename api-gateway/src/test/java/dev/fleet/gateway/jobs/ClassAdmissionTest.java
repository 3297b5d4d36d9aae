package dev.fleet.gateway.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.gateway.models.Model;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.model.FieldError;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.ClassRoute;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import org.junit.jupiter.api.Test;

/** Routing by the memory planner, and the refusal of jobs no class holds, without a running app. */
class MemoryAdmissionTest {
  private static final Model FLUX_DEV =
      new Model(
          "flux-dev", FluxDims.FLUX_DEV, StorageType.FP8, 28, 1024, 1024, 3.5, 256, 16384, 50);
  private static final Model TINY =
      new Model("flux-tiny", FluxDims.TINY, StorageType.FP8, 4, 128, 96, 3.5, 16, 1024, 50);

  @Test
  void jobsGoToTheSmallestClassWhosePlanFits() {
    ClassRoute.Fits tiny = ClassAdmission.route(TINY, 128, 96, 1);
    assertEquals(MemoryClass.VRAM_8G, tiny.memoryClass());
    ClassRoute.Fits flux = ClassAdmission.route(FLUX_DEV, 1024, 1024, 1);
    assertEquals(MemoryClass.VRAM_8G, flux.memoryClass());
    assertTrue(
        flux.plan().predictedPeakBytes() <= flux.decision().usableBytes(),
        flux.decision().reason());
    // 2048x2048 needs more than 8 GiB even fully streamed: a larger class holds it.
    ClassRoute.Fits huge = ClassAdmission.route(FLUX_DEV, 2048, 2048, 1);
    assertTrue(huge.memoryClass() != MemoryClass.VRAM_8G, huge.decision().reason());
  }

  @Test
  void aJobTooLargeForEveryClassIsRefusedWithTheNumbers() {
    ProblemException e =
        assertThrows(ProblemException.class, () -> ClassAdmission.route(FLUX_DEV, 16384, 16384, 1));
    Problem p = e.problem();
    assertEquals(422, p.status());
    assertEquals(Problem.TOO_LARGE_FOR_GPUS, p.type());
    var refused =
        (ClassRoute.TooLarge)
            ClassRoute.of(
                FluxDims.FLUX_DEV,
                new Workload(16384, 16384, 1, StorageType.FP8),
                Hardware.DEFAULT);
    String needed = ByteSize.gib(refused.neededBytes());
    assertTrue(refused.neededBytes() > MemoryClass.VRAM_16G.budgetBytes());
    assertTrue(p.detail().contains("16384x16384 needs " + needed + " of GPU memory"), p.detail());
    assertTrue(p.detail().contains("the largest class vram-16g has 16.0 GiB"), p.detail());
    assertTrue(
        p.errors().stream()
            .map(FieldError::field)
            .toList()
            .containsAll(java.util.List.of("width", "height")));
  }

  @Test
  void aHugeBatchIsRefusedToo() {
    ProblemException e =
        assertThrows(ProblemException.class, () -> ClassAdmission.route(FLUX_DEV, 1024, 1024, 64));
    assertTrue(e.problem().detail().contains("64 images of 1024x1024 needs"), e.problem().detail());
    assertTrue(e.problem().detail().contains("vram-16g has 16.0 GiB"), e.problem().detail());
  }
}
