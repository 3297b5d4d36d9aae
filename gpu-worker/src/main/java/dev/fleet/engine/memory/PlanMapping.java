package dev.fleet.engine.memory;

import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.Residency;
import java.util.ArrayList;
import java.util.List;

/**
 * The planner's {@link Plan} (shared-model, what to do) as the executor's {@link ExecutionPlan}
 * (gpu-worker, how to run it): the one place where the two vocabularies meet.
 *
 * <ul>
 *   <li>resident blocks: the DiT residency's resident double and single block counts;
 *   <li>T5: its residency (resident, staged whole, or streamed layer by layer). The executor runs
 *       CLIP resident beside a resident T5 and staged otherwise, so a resident T5 beside a staged
 *       CLIP (no planner plan has one) runs staged;
 *   <li>autoencoder: its residency (resident, or staged for the decode);
 *   <li>decode tile: see {@link #vaeTile(int)};
 *   <li>attention chunk: the same number of query rows;
 *   <li>text storage: the first text encoder's matrices in fp16 or fp8, as the plan stores them;
 *   <li>budget: the planner's budget less {@link MemoryModel#RESERVE_BYTES}, what the plan's peak
 *       was fitted into, so the ledger refuses what the planner would not have admitted.
 * </ul>
 */
public final class PlanMapping {
  /**
   * Pixels per latent cell along each side of FLUX.1's autoencoder (and the fixture's): three 2x
   * upsamples. The worker refuses other geometries.
   */
  public static final int DECODE_DOWNSCALE = 8;

  /**
   * The margin, in latent cells per side, that a decoder tile carries at the decoder's first
   * (coarsest) level for FLUX.1's autoencoder: enough for the receptive field of everything after
   * it (the tiled decoder computes it from the autoencoder's depth; VaeMarginTest pins the two).
   * Finer levels carry less margin in image pixels, so the coarsest level's padded tile is the
   * widest.
   */
  public static final int DECODE_MARGIN = 13;

  private PlanMapping() {}

  /**
   * The executor's plan for {@code plan} under a device budget of {@code budgetBytes} (reserve
   * included, as the planner was given it).
   *
   * @throws IllegalArgumentException when the budget is no larger than the reserve
   */
  public static ExecutionPlan toExecution(Plan plan, long budgetBytes) {
    long usable = budgetBytes - MemoryModel.RESERVE_BYTES;
    if (usable <= 0) {
      throw new IllegalArgumentException(
          "a budget of "
              + budgetBytes
              + " bytes leaves nothing beside the "
              + MemoryModel.RESERVE_BYTES
              + "-byte reserve");
    }
    return new ExecutionPlan(
        plan.name(),
        plan.dit().residentDoubleBlocks(),
        plan.dit().residentSingleBlocks(),
        t5(plan),
        plan.autoencoder(),
        vaeTile(plan.decodeTile()),
        plan.attentionChunk(),
        usable,
        plan.t5Storage());
  }

  /** T5's residency as the executor runs it: CLIP is staged unless T5 is resident. */
  static Residency t5(Plan plan) {
    if (plan.t5() == Residency.RESIDENT && plan.clip() != Residency.RESIDENT) {
      return Residency.STAGED;
    }
    return plan.t5();
  }

  /**
   * The executor's decode tile for the planner's. The planner's tile is the side, in image pixels,
   * of the square region the decoder works on at once, margins included; the executor's is the
   * core, in latent cells, that each tile contributes to the image, around which it carries {@link
   * #DECODE_MARGIN} cells per side at the coarsest level. So the core whose padded tile spans
   * {@code decodeTile} image pixels is {@code decodeTile / 8 - 2 * 13} latent cells (rounded down):
   * 1024 to 102, 512 to 38, 256 to 6. At least {@link ExecutionPlan#MIN_VAE_TILE}; 0 (decode whole)
   * stays 0. This is also the area {@code ActivationEstimates.vaeDecode} books per tile.
   *
   * @throws IllegalArgumentException for a negative tile
   */
  /**
   * The planner's decode tile (image pixels, margins included) of an executor tile of {@code
   * vaeTile} latent cells: the inverse of {@link #vaeTile(int)} up to its rounding; 0 for 0.
   */
  public static int decodeTilePixels(int vaeTile) {
    return vaeTile == 0 ? 0 : (vaeTile + 2 * DECODE_MARGIN) * DECODE_DOWNSCALE;
  }

  public static int vaeTile(int decodeTile) {
    if (decodeTile < 0) {
      throw new IllegalArgumentException(
          "decode tile must be 0 (whole) or positive, got " + decodeTile);
    }
    if (decodeTile == 0) {
      return 0;
    }
    int core = decodeTile / DECODE_DOWNSCALE - 2 * DECODE_MARGIN;
    return Math.max(ExecutionPlan.MIN_VAE_TILE, core);
  }

  /**
   * What the worker loads for a fitting decision, fastest first: the chosen plan, then, in the
   * planner's {@link Planner#FASTEST_FIRST} order, every fitting plan the decision names (the best
   * of each rung and the leanest) whose predicted peak is below that of the plan before it, so that
   * each fallback needs less memory than the one it replaces. Plans that the executor would run the
   * same way (they differ only where the mapping merges them) appear once.
   *
   * @throws IllegalArgumentException when nothing fits, with the planner's reason
   */
  public static List<ExecutionPlan> fallbackLadder(PlanDecision decision) {
    return fallbackPlans(decision).stream()
        .map(p -> toExecution(p, decision.budgetBytes()))
        .toList();
  }

  /** The planner's plans behind {@link #fallbackLadder}, in its order. */
  static List<Plan> fallbackPlans(PlanDecision decision) {
    if (!decision.fits()) {
      throw new IllegalArgumentException(decision.reason());
    }
    List<Plan> fitting = new ArrayList<>();
    for (PlanDecision.Alternative a : decision.alternatives()) {
      if (a.fits()) {
        fitting.add(a.plan());
      }
    }
    fitting.add(decision.leanest());
    fitting.sort(Planner.FASTEST_FIRST);
    long budget = decision.budgetBytes();
    List<Plan> ladder = new ArrayList<>(List.of(decision.chosen()));
    for (Plan p : fitting) {
      Plan last = ladder.get(ladder.size() - 1);
      ExecutionPlan e = toExecution(p, budget);
      if (p.predictedPeakBytes() < last.predictedPeakBytes()
          && ladder.stream().noneMatch(known -> sameExecution(toExecution(known, budget), e))) {
        ladder.add(p);
      }
    }
    return List.copyOf(ladder);
  }

  /** True when the two plans run the same way (their names aside). */
  static boolean sameExecution(ExecutionPlan a, ExecutionPlan b) {
    return a.residentDoubleBlocks() == b.residentDoubleBlocks()
        && a.residentSingleBlocks() == b.residentSingleBlocks()
        && a.t5() == b.t5()
        && a.autoencoder() == b.autoencoder()
        && a.vaeTile() == b.vaeTile()
        && a.attentionChunk() == b.attentionChunk()
        && a.budgetBytes() == b.budgetBytes();
  }
}
