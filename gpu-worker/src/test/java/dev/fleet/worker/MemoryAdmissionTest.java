package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.StorageType;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The worker's admission: the planner's answer for a job's image under the worker's budget. */
class MemoryAdmissionTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  private static MemoryAdmission tiny(long budget) {
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, null);
    return new MemoryAdmission(
        ModelDimsReader.read(model),
        ModelDimsReader.ditStorage(model),
        budget,
        Hardware.DEFAULT,
        EngineProfile.DJL_EAGER);
  }

  private static MemoryAdmission dev(long budget) {
    return new MemoryAdmission(
        FluxDims.FLUX_DEV, StorageType.FP8, budget, Hardware.DEFAULT, EngineProfile.DJL_EAGER);
  }

  private static GenerationSpec job(int width, int height) {
    return new GenerationSpec("a fox", 1, 4, width, height, 3.5, "flux-tiny");
  }

  @Test
  void aJobThatSomePlanFitsIsAdmitted() {
    assertEquals(Optional.empty(), tiny(8 * GIB).refusal(job(1024, 1024)));
    assertEquals(Optional.empty(), tiny(1000 * MIB).refusal(job(1024, 1024)));
    assertEquals(Optional.empty(), dev(8 * GIB).refusal(job(1024, 1024)));
  }

  @Test
  void aJobNoPlanFitsIsRefusedWithNeededAgainstBudget() {
    MemoryAdmission admission = tiny(1000 * MIB);
    PlanDecision d = admission.plan(2048, 2048);
    assertTrue(d.neededBytes() > 1000 * MIB, "needs " + d.neededBytes());
    String why = admission.refusal(job(2048, 2048)).orElseThrow();
    assertTrue(why.startsWith("2048x2048 needs "), why);
    assertTrue(why.contains("(" + d.neededBytes() + " bytes)"), why);
    assertTrue(why.endsWith("budget of 0.98 GiB (" + 1000 * MIB + " bytes)"), why);
    assertTrue(why.contains(d.leanest().name()), why);
    // Exactly the needed budget admits it; a byte less does not.
    assertEquals(Optional.empty(), tiny(d.neededBytes()).refusal(job(2048, 2048)));
    assertTrue(tiny(d.neededBytes() - 1).refusal(job(2048, 2048)).isPresent());
  }

  @Test
  void fluxDevUnderHalfAGibIsRefusedAtAnySize() {
    String why = dev(512 * MIB).refusal(job(256, 256)).orElseThrow();
    assertTrue(why.contains("(" + 512 * MIB + " bytes)"), why);
  }

  @Test
  void theLoadPlanMustFitTheLargestImageOrTheWorkerDoesNotStart() {
    PlanDecision d = tiny(8 * GIB).planForLoad(1024, 1024);
    assertTrue(d.fits());
    assertEquals("all-resident", d.chosen().name());
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> tiny(FluxMemoryModel.RESERVE_BYTES).planForLoad(64, 64));
    assertTrue(e.getMessage().contains("nothing fits in"), e.getMessage());
    assertTrue(e.getMessage().contains("fleet.worker.budget"), e.getMessage());
    IllegalStateException odd =
        assertThrows(IllegalStateException.class, () -> tiny(8 * GIB).planForLoad(1000, 1000));
    assertTrue(odd.getMessage().contains("max-width"), odd.getMessage());
  }

  @Test
  void aSizeTheModelCannotTakeIsAnInvalidSpecNotARefusal() {
    assertThrows(IllegalArgumentException.class, () -> tiny(8 * GIB).plan(100, 64));
  }
}
