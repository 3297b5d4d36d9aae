package dev.fleet.engine.pipeline;

import dev.fleet.engine.memory.ExecutionPlan;
import java.util.List;

/**
 * One generation under a memory plan: the image and how it was made.
 *
 * @param image the result
 * @param plan the plan that produced it (after any fallback)
 * @param events plan changes during this job (empty when the first plan held)
 * @param bytesMovedPerStep host-to-device bytes of streamed DiT blocks, per denoising step
 * @param textBytesMoved host-to-device bytes of a streamed T5 in this job (its head and blocks,
 *     once); 0 on a prompt-cache hit or when T5 does not stream
 * @param peakBytes the most device bytes the ledger had booked during the job
 * @param budgetBytes the ledger's budget
 * @param bookingsAtPeak what was booked at that peak
 */
public record PlannedGeneration(
    GeneratedImage image,
    ExecutionPlan plan,
    List<PlanEvent> events,
    long[] bytesMovedPerStep,
    long textBytesMoved,
    long peakBytes,
    long budgetBytes,
    List<String> bookingsAtPeak) {

  public PlannedGeneration {
    events = List.copyOf(events);
    bytesMovedPerStep = bytesMovedPerStep.clone();
    bookingsAtPeak = List.copyOf(bookingsAtPeak);
  }

  /** True when the job was retried under another plan. */
  public boolean retried() {
    return events.stream().anyMatch(e -> e.kind() == PlanEvent.Kind.JOB_RETRIED);
  }

  @Override
  public long[] bytesMovedPerStep() {
    return bytesMovedPerStep.clone();
  }
}
