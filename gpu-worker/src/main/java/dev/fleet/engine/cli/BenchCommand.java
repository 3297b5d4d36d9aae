package dev.fleet.engine.cli;

import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.bench.BenchResult;
import dev.fleet.engine.bench.DitBenchmark;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.io.PrintStream;
import java.util.List;
import java.util.Set;

/**
 * {@code ./fleet engine bench}: real denoising steps of a FLUX-shaped DiT with random weights made
 * in place, under the plan the planner picks for the budget; prints what it measured as JSON.
 */
final class BenchCommand {
  private static final Set<String> OPTIONS =
      Set.of(
          "synthetic",
          "budget",
          "width",
          "height",
          "steps",
          "storage",
          "device",
          "precision",
          "bandwidth",
          "blocks",
          "matmul");

  private final PrintStream out;
  private final PrintStream err;

  BenchCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  int run(List<String> argv) {
    Args a = Args.parse("bench", argv, OPTIONS);
    String name = a.required("synthetic");
    ModelDims dims =
        ModelDims.preset(name)
            .orElseThrow(
                () ->
                    new UsageException(
                        "bench: --synthetic "
                            + name
                            + " is not a preset (known: "
                            + String.join(", ", ModelDims.presetNames())
                            + ")"));
    ModelShape shape = ModelShape.preset(name);
    long budget = parse("budget", a.required("budget"));
    StorageType storage = StorageType.parse(a.get("storage", "fp8"));
    int steps = a.intValue("steps", 5);
    if (steps < 1) {
      throw new UsageException("bench: --steps must be at least 1, got " + steps);
    }
    ComputeTarget target = EngineMain.target(a);
    Workload workload =
        new Workload(a.intValue("width", 1024), a.intValue("height", 1024), 1, storage);
    Hardware hardware = Hardware.DEFAULT;
    if (a.has("bandwidth")) {
      hardware = hardware.withBandwidth(ByteSize.parseRate(a.get("bandwidth", null)));
    }
    // The engine as it runs here: on a GPU the whole-block TorchScript modules ("scripted", the
    // default where they are on the class path) or DJL's ops with fused attention ("djl").
    boolean scripted = EngineProfiles.usesScriptedBlocks(target);
    String blocks = a.get("blocks", scripted ? "scripted" : "djl");
    switch (blocks) {
      case "scripted" -> {
        if (!scripted) {
          throw new UsageException(
              "bench: --blocks scripted needs a GPU and the block modules on the class path");
        }
      }
      case "djl" -> scripted = false;
      default -> throw new UsageException("bench: --blocks must be scripted or djl, got " + blocks);
    }
    String matmul = a.get("matmul", "fp16");
    if (!matmul.equals("fp16") && !matmul.equals("fp8")) {
      throw new UsageException("bench: --matmul must be fp16 or fp8, got " + matmul);
    }
    boolean fp8Matmul = matmul.equals("fp8");
    if (fp8Matmul && (!scripted || storage != StorageType.FP8)) {
      throw new UsageException(
          "bench: --matmul fp8 needs the scripted blocks (a GPU) and --storage fp8");
    }
    EngineProfile engine = scripted ? EngineProfile.DJL_SCRIPTED : EngineProfiles.forTarget(target);
    if (!scripted && engine == EngineProfile.DJL_SCRIPTED) {
      engine = EngineProfile.DJL_FUSED;
    }
    PlanDecision decision = Planner.plan(dims, workload, budget, hardware, engine);
    if (!decision.fits()) {
      err.println("engine: bench: " + decision.reason());
      return 2;
    }
    err.println("engine: bench: plan " + decision.chosen().name() + ": " + decision.reason());
    if (target.dtype() != DataType.FLOAT16 && target.device().isGpu()) {
      err.println("engine: bench: float32 on a GPU doubles every activation the plan counted");
    }
    BenchResult r =
        DitBenchmark.run(
            shape,
            decision.chosen(),
            new MemoryModel(dims, workload, engine),
            budget,
            workload.width(),
            workload.height(),
            steps,
            target,
            hardware.bandwidthBytesPerSecond(),
            scripted,
            fp8Matmul);
    out.println(r.toJson());
    return 0;
  }

  private static long parse(String option, String text) {
    try {
      return ByteSize.parse(text);
    } catch (IllegalArgumentException e) {
      throw new UsageException("bench: --" + option + ": " + e.getMessage());
    }
  }
}
