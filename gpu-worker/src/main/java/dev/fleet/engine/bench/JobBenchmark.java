package dev.fleet.engine.bench;

import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.gpu.GpuExecution;
import dev.fleet.engine.gpu.TorchScriptHelpers;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.pipeline.PlannedGeneration;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.PlanDecision;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whole jobs through the planned pipeline the worker runs (FLUX's or NewBie's) — text encoders,
 * every denoising step, the decode — under the plan ladder the planner picks for a budget, timed
 * per phase with the device synchronised at each phase boundary, the device-wide memory peak
 * sampled per phase. The first job pays one-time costs (kernel selection, allocator growth); the
 * next ones are the steady state.
 */
public final class JobBenchmark {
  private JobBenchmark() {}

  /**
   * Per-phase seconds and device peaks of one job.
   *
   * @param seconds by phase ({@code text}, {@code denoise}, {@code decode}) in run order
   * @param measuredPeakBytes device-wide peak per phase (nvidia-smi; -1 without an NVIDIA GPU)
   * @param bookedPeakBytes the ledger's peak over the job
   * @param plan the plan the job ran under (after any fallback)
   */
  public record JobTimes(
      Map<String, Double> seconds,
      Map<String, Long> measuredPeakBytes,
      long bookedPeakBytes,
      double totalSeconds,
      String plan) {}

  /**
   * What the runs measured.
   *
   * @param decision the planner's decision for the budget
   * @param loadSeconds loading the pipeline under its first plan that fits
   */
  public record JobBenchResult(
      String model,
      String device,
      String engine,
      int width,
      int height,
      int steps,
      PlanDecision decision,
      double loadSeconds,
      List<JobTimes> jobs) {}

  /**
   * Loads the model at {@code model} (any family's) under {@code decision}'s plan ladder and runs
   * one job per spec, in order (all of one size and step count).
   */
  public static JobBenchResult run(
      ModelLocation model,
      PlanDecision decision,
      List<GenerationSpec> specs,
      ComputeTarget target,
      boolean fp8Matmul) {
    GenerationSpec first = specs.get(0);
    List<ExecutionPlan> plans = PlanMapping.fallbackLadder(decision);
    boolean gpu = target.device().isGpu();
    int deviceIndex = Math.max(0, target.device().getDeviceId());
    try (TorchScriptHelpers helpers =
            EngineProfiles.usesHelpers(target) ? TorchScriptHelpers.load(target.device()) : null;
        GpuMemoryProbe probe = gpu ? GpuMemoryProbe.start(deviceIndex) : null) {
      ExecutionOptions options =
          GpuExecution.options(ExecutionOptions.defaults(), helpers, target, fp8Matmul);
      long start = System.nanoTime();
      try (GenerationPipeline pipeline =
          ModelFamilies.of(model).load(model, target, plans, options)) {
        double loadSeconds = (System.nanoTime() - start) / 1e9;
        List<JobTimes> times = new ArrayList<>();
        for (GenerationSpec spec : specs) {
          times.add(timeOne(pipeline, spec, helpers, probe));
        }
        return new JobBenchResult(
            model.name(),
            target.device() + "/" + target.dtype(),
            EngineProfiles.forTarget(target).name() + (fp8Matmul ? " + fp8 matmul" : ""),
            first.width(),
            first.height(),
            first.steps(),
            decision,
            loadSeconds,
            times);
      }
    }
  }

  private static JobTimes timeOne(
      GenerationPipeline pipeline,
      GenerationSpec spec,
      TorchScriptHelpers helpers,
      GpuMemoryProbe probe) {
    Map<String, Double> seconds = new LinkedHashMap<>();
    Map<String, Long> peaks = new LinkedHashMap<>();
    String[] phase = {null};
    long[] since = {0};
    Runnable close =
        () -> {
          if (helpers != null) {
            helpers.synchronize();
          }
          long now = System.nanoTime();
          if (phase[0] != null) {
            seconds.put(phase[0], (now - since[0]) / 1e9);
            peaks.put(phase[0], probe == null ? -1 : probe.takeWindowPeakBytes());
          } else if (probe != null) {
            probe.takeWindowPeakBytes(); // what came before the job is not part of it
          }
          since[0] = now;
        };
    GenerationListener listener =
        new GenerationListener() {
          @Override
          public void onPhaseStart(String name) {
            close.run();
            phase[0] = name;
          }
        };
    close.run();
    long start = since[0];
    PlannedGeneration g = pipeline.generate(spec, listener);
    close.run();
    return new JobTimes(
        seconds, peaks, g.peakBytes(), (System.nanoTime() - start) / 1e9, g.plan().name());
  }
}
