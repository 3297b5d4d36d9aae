package dev.fleet.engine.bench;

import java.util.List;
import java.util.Locale;

/**
 * What one benchmark run measured, and what the plan predicted for it.
 *
 * @param measuredPeakDeviceBytes device-wide peak from nvidia-smi (-1 when there is no NVIDIA GPU)
 * @param bookedPeakBytes the executor's ledger peak (what it booked against the budget)
 * @param predictedPeakBytes the plan's predicted peak, reserve not included
 * @param reserveBytes the planner's reserve for the CUDA context and allocator slack
 * @param denoiserBatch samples per forward pass while guidance runs (2 with classifier-free
 *     guidance: the conditional and the unconditional pass batched; 1 for FLUX's distilled one)
 * @param guidedSteps timed steps that ran the unconditional pass (none past the CFG truncation)
 */
public record BenchResult(
    String model,
    String device,
    String storage,
    int width,
    int height,
    long budgetBytes,
    String plan,
    int residentDoubleBlocks,
    int residentSingleBlocks,
    String attention,
    List<Double> secondsPerStepAll,
    double secondsPerStep,
    long measuredPeakDeviceBytes,
    long bookedPeakBytes,
    long predictedPeakBytes,
    long reserveBytes,
    long streamedBytesPerStep,
    double hostToDeviceGBps,
    double measuredPinnedGBps,
    double boundSecondsPerStep,
    double loadSeconds,
    int denoiserBatch,
    int guidedSteps) {

  /** One JSON object, keys in a fixed order. */
  public String toJson() {
    StringBuilder b = new StringBuilder("{");
    field(b, "model", q(model));
    field(b, "device", q(device));
    field(b, "storage", q(storage));
    field(b, "width", width);
    field(b, "height", height);
    field(b, "budgetBytes", budgetBytes);
    field(b, "plan", q(plan));
    field(b, "residentDoubleBlocks", residentDoubleBlocks);
    field(b, "residentSingleBlocks", residentSingleBlocks);
    field(b, "attention", q(attention));
    field(b, "secondsPerStep", fmt(secondsPerStep));
    field(
        b,
        "secondsPerStepAll",
        secondsPerStepAll.stream().map(BenchResult::fmt).toList().toString().replace(" ", ""));
    field(b, "measuredPeakDeviceBytes", measuredPeakDeviceBytes);
    field(b, "bookedPeakBytes", bookedPeakBytes);
    field(b, "predictedPeakBytes", predictedPeakBytes);
    field(b, "reserveBytes", reserveBytes);
    field(b, "predictedDeviceBytes", predictedPeakBytes + reserveBytes);
    field(b, "streamedBytesPerStep", streamedBytesPerStep);
    field(b, "hostToDeviceGBps", fmt(hostToDeviceGBps));
    field(b, "measuredPinnedGBps", fmt(measuredPinnedGBps));
    field(b, "boundSecondsPerStep", fmt(boundSecondsPerStep));
    field(b, "loadSeconds", fmt(loadSeconds));
    field(b, "denoiserBatch", denoiserBatch);
    field(b, "guidedSteps", guidedSteps);
    b.setLength(b.length() - 1);
    return b.append('}').toString();
  }

  private static void field(StringBuilder b, String name, Object value) {
    b.append('"').append(name).append("\":").append(value).append(',');
  }

  private static String q(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static String fmt(double d) {
    return String.format(Locale.ROOT, "%.4f", d);
  }
}
