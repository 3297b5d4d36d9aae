package dev.fleet.engine.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.memory.DitResidency;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.PhasePeaks;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlanMappingTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  private static Plan plan(
      DitResidency dit, Residency t5, Residency clip, Residency ae, int tile, int chunk) {
    return new Plan(
        dit, t5, StorageType.FP16, clip, ae, tile, chunk, new PhasePeaks(1, 1, 1, 1), 0, 0, 0, 0);
  }

  private static PlanDecision devAt1024(long budget) {
    return Planner.plan(
        FluxDims.FLUX_DEV,
        Workload.of(1024, 1024),
        budget,
        Hardware.DEFAULT,
        EngineProfile.DJL_EAGER);
  }

  @Test
  void theChosenPlanForFluxDevUnderEightGibMapsFieldByField() {
    PlanDecision d = devAt1024(8 * GIB);
    Plan p = d.chosen();
    ExecutionPlan e = PlanMapping.toExecution(p, 8 * GIB);
    assertEquals(p.name(), e.name());
    assertEquals(p.dit().residentDoubleBlocks(), e.residentDoubleBlocks());
    assertEquals(p.dit().residentSingleBlocks(), e.residentSingleBlocks());
    assertTrue(p.dit().residentBlocks() > 0 && !p.dit().fullyResident(), p.name());
    assertEquals(p.t5(), e.t5(), "CLIP " + p.clip());
    assertEquals(Residency.STREAMED, e.t5(), "T5-XXL cannot be staged whole under 8 GiB");
    assertEquals(p.autoencoder(), e.autoencoder());
    assertEquals(PlanMapping.vaeTile(p.decodeTile()), e.vaeTile());
    assertEquals(p.attentionChunk(), e.attentionChunk());
    assertEquals(8 * GIB - FluxMemoryModel.RESERVE_BYTES, e.budgetBytes());
    assertTrue(p.predictedPeakBytes() <= e.budgetBytes());
  }

  @Test
  void residenciesMapToBlockCountsAndStaging() {
    DitResidency all = DitResidency.all(FluxDims.FLUX_DEV.dit(), StorageType.FP8);
    DitResidency none = DitResidency.none(FluxDims.FLUX_DEV.dit(), StorageType.FP8);
    DitResidency some = new DitResidency(StorageType.FP8, 19, 38, 7, 3);
    long budget = 16 * GIB;

    ExecutionPlan resident =
        PlanMapping.toExecution(
            plan(all, Residency.RESIDENT, Residency.RESIDENT, Residency.RESIDENT, 0, 0), budget);
    assertEquals(19, resident.residentDoubleBlocks());
    assertEquals(38, resident.residentSingleBlocks());
    assertEquals(Residency.RESIDENT, resident.t5());
    assertEquals(Residency.RESIDENT, resident.autoencoder());
    assertFalse(resident.tiledDecode());
    assertFalse(resident.chunkedAttention());

    ExecutionPlan streamed =
        PlanMapping.toExecution(
            plan(none, Residency.STREAMED, Residency.STAGED, Residency.STAGED, 512, 2048), budget);
    assertEquals(0, streamed.residentDoubleBlocks());
    assertEquals(0, streamed.residentSingleBlocks());
    assertEquals(Residency.STREAMED, streamed.t5(), "T5 streams layer by layer");
    assertEquals(Residency.STAGED, streamed.autoencoder(), "the autoencoder is loaded to decode");
    assertEquals(38, streamed.vaeTile());
    assertEquals(2048, streamed.attentionChunk());

    ExecutionPlan partial =
        PlanMapping.toExecution(
            plan(some, Residency.RESIDENT, Residency.STAGED, Residency.RESIDENT, 0, 0), budget);
    assertEquals(7, partial.residentDoubleBlocks());
    assertEquals(3, partial.residentSingleBlocks());
    assertEquals(Residency.STAGED, partial.t5(), "CLIP staged stages both");
    assertEquals(Residency.RESIDENT, partial.autoencoder());

    ExecutionPlan staged =
        PlanMapping.toExecution(
            plan(some, Residency.STAGED, Residency.STAGED, Residency.STAGED, 0, 0), budget);
    assertEquals(Residency.STAGED, staged.t5());
    assertEquals(Residency.STAGED, staged.autoencoder());
    assertFalse(PlanMapping.sameExecution(partial, staged), "the autoencoder's residency counts");
  }

  @Test
  void anExecutionPlanNamesAMissingOrStreamedComponent() {
    IllegalArgumentException streamed =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ExecutionPlan("p", 0, 0, Residency.STREAMED, Residency.STREAMED, 0, 0, GIB));
    assertTrue(streamed.getMessage().contains("autoencoder"), streamed.getMessage());
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ExecutionPlan("p", 0, 0, null, Residency.RESIDENT, 0, 0, GIB));
    assertTrue(missing.getMessage().contains("T5"), missing.getMessage());
  }

  @Test
  void decodeTilesBecomeLatentCoresWithoutTheirMargins() {
    assertEquals(0, PlanMapping.vaeTile(0));
    // (core + 2 * 13) * 8 = tile
    assertEquals(102, PlanMapping.vaeTile(1024));
    assertEquals(38, PlanMapping.vaeTile(512));
    assertEquals(6, PlanMapping.vaeTile(256));
    // Rounded down: 300 / 8 = 37.5 cells, of which 26 margin.
    assertEquals(11, PlanMapping.vaeTile(300));
    // Tiles that would be all margin take the executor's smallest core.
    assertEquals(ExecutionPlan.MIN_VAE_TILE, PlanMapping.vaeTile(200));
    assertEquals(ExecutionPlan.MIN_VAE_TILE, PlanMapping.vaeTile(1));
    for (int tile : new int[] {256, 512, 1024}) {
      int padded = (PlanMapping.vaeTile(tile) + 2 * PlanMapping.DECODE_MARGIN) * 8;
      assertEquals(tile, padded, "padded tile of " + tile);
    }
    assertThrows(IllegalArgumentException.class, () -> PlanMapping.vaeTile(-1));
  }

  @Test
  void theBudgetLosesTheReserveAndMustExceedIt() {
    DitResidency all = DitResidency.all(FluxDims.TINY.dit(), StorageType.FP16);
    Plan p = plan(all, Residency.RESIDENT, Residency.RESIDENT, Residency.RESIDENT, 0, 0);
    assertEquals(
        GIB - FluxMemoryModel.RESERVE_BYTES, PlanMapping.toExecution(p, GIB).budgetBytes());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> PlanMapping.toExecution(p, FluxMemoryModel.RESERVE_BYTES));
    assertTrue(e.getMessage().contains("reserve"), e.getMessage());
  }

  @Test
  void theFallbackLadderStartsWithTheChosenPlanAndOnlyGetsLeaner() {
    for (long budget : new long[] {8 * GIB, 12 * GIB, 16 * GIB}) {
      PlanDecision d = devAt1024(budget);
      List<ExecutionPlan> ladder = PlanMapping.fallbackLadder(d);
      assertEquals(PlanMapping.toExecution(d.chosen(), budget), ladder.get(0));
      assertTrue(
          PlanMapping.sameExecution(
              PlanMapping.toExecution(d.leanest(), budget), ladder.get(ladder.size() - 1)),
          "ends with the leanest: " + ladder);
      assertTrue(ladder.size() >= 2, ladder.toString());
      for (int i = 0; i < ladder.size(); i++) {
        assertEquals(budget - FluxMemoryModel.RESERVE_BYTES, ladder.get(i).budgetBytes());
        for (int j = 0; j < i; j++) {
          assertFalse(PlanMapping.sameExecution(ladder.get(i), ladder.get(j)), ladder.toString());
        }
      }
      List<Plan> plans = PlanMapping.fallbackPlans(d);
      assertEquals(ladder.size(), plans.size());
      assertEquals(d.chosen(), plans.get(0));
      for (int i = 1; i < plans.size(); i++) {
        assertTrue(
            plans.get(i).predictedPeakBytes() < plans.get(i - 1).predictedPeakBytes(),
            "leaner down the ladder: " + ladder);
        assertTrue(plans.get(i).predictedPeakBytes() <= d.usableBytes());
        assertTrue(Planner.FASTEST_FIRST.compare(plans.get(i - 1), plans.get(i)) < 0);
      }
    }
  }

  @Test
  void theTinyModelsLadderEndsFullyStreamedInTilesAndChunks() {
    PlanDecision d =
        Planner.plan(
            FluxDims.TINY,
            new Workload(1024, 1024, 1, StorageType.FP16),
            8 * GIB,
            Hardware.DEFAULT,
            EngineProfile.DJL_EAGER);
    List<ExecutionPlan> ladder = PlanMapping.fallbackLadder(d);
    ExecutionPlan first = ladder.get(0);
    assertEquals("all-resident", first.name());
    assertEquals(2, first.residentDoubleBlocks());
    assertEquals(2, first.residentSingleBlocks());
    ExecutionPlan last = ladder.get(ladder.size() - 1);
    assertEquals(0, last.residentDoubleBlocks() + last.residentSingleBlocks());
    assertTrue(last.tiledDecode() && last.chunkedAttention(), last.toString());
  }

  @Test
  void aDecisionWhereNothingFitsHasNoLadder() {
    PlanDecision d = devAt1024(512 * MIB);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PlanMapping.fallbackLadder(d));
    assertEquals(d.reason(), e.getMessage());
  }
}
