package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.Workload;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The planner and the executor's ledger agree: across models, image sizes and budgets, every plan
 * the planner accepts runs under the executor's ledger without a refusal (no fallback, the plan the
 * planner chose is the one that ran), and what the ledger booked at its peak stays within what the
 * planner predicted. float16 on the CPU, so that the planner's float16 arithmetic is the
 * executor's.
 */
class PlannerLedgerAgreementTest {
  private static final ComputeTarget FP16_CPU = new ComputeTarget(Device.cpu(), DataType.FLOAT16);

  @Test
  void everyAcceptedPlanRunsUnderTheLedgerWithinItsPrediction() {
    List<String> seen = new ArrayList<>();
    for (Path dir : List.of(Fixtures.MODEL, Fixtures.SHAPES_MODEL)) {
      ModelDirectory model = ModelDirectory.resolve(dir, null);
      FluxDims dims = ModelDimsReader.read(model);
      for (int side : new int[] {64, 128}) {
        Workload workload =
            new Workload(
                side,
                side,
                1,
                ModelDimsReader.ditStorage(model),
                ModelDimsReader.storedBlocks(model));
        long needed =
            Planner.plan(
                    dims, workload, Long.MAX_VALUE / 4, Hardware.DEFAULT, EngineProfile.DJL_EAGER)
                .neededBytes();
        long allResident =
            Planner.plan(
                    dims, workload, Long.MAX_VALUE / 4, Hardware.DEFAULT, EngineProfile.DJL_EAGER)
                .chosen()
                .predictedPeakBytes();
        // Budgets from the leanest plan's need up to everything resident, reserve included.
        for (double f : new double[] {0, 0.5, 1.0}) {
          long budget =
              needed + (long) (f * (allResident + FluxMemoryModel.RESERVE_BYTES - needed));
          PlanDecision d =
              Planner.plan(dims, workload, budget, Hardware.DEFAULT, EngineProfile.DJL_EAGER);
          assertTrue(d.fits(), "the planner accepts its own need: " + d.reason());
          List<ExecutionPlan> ladder = PlanMapping.fallbackLadder(d);
          try (PlannedPipeline p =
              PlannedPipeline.load(model, FP16_CPU, ladder, ExecutionOptions.defaults())) {
            PlannedGeneration g =
                p.generate(
                    new GenerationSpec("a red circle", 1, 1, side, side, 0.0, model.name()),
                    GenerationListener.NONE);
            String what =
                dir.getFileName()
                    + " "
                    + side
                    + "px under "
                    + budget
                    + " B ("
                    + d.chosen().name()
                    + ")";
            seen.add(
                what
                    + ": booked "
                    + g.peakBytes()
                    + " of predicted "
                    + d.chosen().predictedPeakBytes());
            assertEquals(List.of(), g.events(), what + ": the ledger refused the accepted plan");
            assertEquals(ladder.get(0), g.plan(), what);
            assertTrue(
                g.peakBytes() <= d.chosen().predictedPeakBytes(),
                what
                    + ": booked "
                    + g.peakBytes()
                    + " > predicted "
                    + d.chosen().predictedPeakBytes()
                    + "; at peak "
                    + g.bookingsAtPeak());
          }
        }
      }
    }
    seen.forEach(System.out::println);
  }
}
