package dev.fleet.model.memory;

import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What the planner decided for one budget, and why.
 *
 * @param budgetBytes the device memory the worker may use
 * @param reserveBytes the part of it no plan may use ({@link MemoryModel#RESERVE_BYTES})
 * @param chosen the fastest plan whose peak fits {@code budget - reserve}; null when none does
 * @param leanest the plan with the smallest peak, fitting or not: what a refusal quotes
 * @param alternatives the best plan of each rung of the ladder, fastest rung first, each saying
 *     whether it fits and why it was not chosen
 */
public record PlanDecision(
    long budgetBytes,
    long reserveBytes,
    Plan chosen,
    Plan leanest,
    List<Alternative> alternatives) {

  /**
   * One rung's best plan as the planner saw it.
   *
   * @param why {@code chosen}, or what keeps it out (its peak over the usable memory, or what it
   *     costs more than the chosen plan)
   */
  public record Alternative(Plan plan, boolean fits, String why) {
    public Alternative {
      Objects.requireNonNull(plan, "plan");
      Objects.requireNonNull(why, "why");
    }
  }

  public PlanDecision {
    Objects.requireNonNull(leanest, "leanest");
    alternatives = List.copyOf(alternatives);
  }

  public boolean fits() {
    return chosen != null;
  }

  /** The budget less the reserve: what a plan's peak must stay within (negative when none). */
  public long usableBytes() {
    return budgetBytes - reserveBytes;
  }

  /** The smallest budget under which some plan fits: the leanest peak plus the reserve. */
  public long neededBytes() {
    return leanest.predictedPeakBytes() + reserveBytes;
  }

  /** One line: the choice and what decided it, or why nothing fits. */
  public String reason() {
    if (!fits()) {
      return String.format(
          Locale.ROOT,
          "nothing fits in %s: the leanest plan, %s, peaks at %s (%s), so it needs a budget of %s"
              + " (%s reserve included)",
          ByteSize.gib(budgetBytes),
          leanest.name(),
          ByteSize.gib(leanest.predictedPeakBytes()),
          leanest.peakPhase().label(),
          ByteSize.gib(neededBytes()),
          ByteSize.gib(reserveBytes));
    }
    DitResidency dit = chosen.dit();
    String text =
        String.format(
            Locale.ROOT,
            "%s: peak %s (%s) of %s usable (%s budget - %s reserve); %d of %d DiT blocks resident,"
                + " %s streamed per step; bound %.3f s/step (%s-bound)",
            chosen.name(),
            ByteSize.gib(chosen.predictedPeakBytes()),
            chosen.peakPhase().label(),
            ByteSize.gib(usableBytes()),
            ByteSize.gib(budgetBytes),
            ByteSize.gib(reserveBytes),
            dit.residentBlocks(),
            dit.blocks(),
            ByteSize.gb(chosen.streamedBytesPerStep()),
            chosen.boundSecondsPerStep(),
            chosen.transferBound() ? "transfer" : "compute");
    String tooBig =
        alternatives.stream()
            .filter(a -> !a.fits())
            .filter(a -> a.plan().strategy().compareTo(chosen.strategy()) < 0)
            .map(
                a ->
                    a.plan().strategy().label()
                        + " needs "
                        + ByteSize.gib(a.plan().predictedPeakBytes()))
            .collect(Collectors.joining(", "));
    return tooBig.isEmpty() ? text : text + "; faster rungs do not fit: " + tooBig;
  }
}
