package dev.fleet.engine.cli;

import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.bench.BenchResult;
import dev.fleet.engine.bench.DitBenchmark;
import dev.fleet.engine.bench.JobBenchJson;
import dev.fleet.engine.bench.JobBenchmark;
import dev.fleet.engine.bench.JobBenchmark.JobBenchResult;
import dev.fleet.engine.bench.NewbieDitBenchmark;
import dev.fleet.engine.bench.SyntheticModels;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.family.ModelFamily;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.nextdit.PlannedNewbiePipeline;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.cli.HelpOption;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.NewbieMemoryModel;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./fleet engine bench}: real denoising steps of a FLUX- or NewBie-shaped DiT with random
 * weights made in place, under the plan the planner picks for the budget; prints what it measured
 * as JSON. Whole jobs ({@code --jobs N}) run on a model directory: FLUX's and NewBie's presets are
 * written there with random weights (or a model already there is used).
 */
@Command(
    name = "./fleet engine bench",
    description =
        "Real denoising steps of a DiT of that shape with random weights made in place (no"
            + " download), under the plan the planner picks for the budget: the plan's blocks"
            + " resident, the rest streamed every step. Prints JSON: s/step, measured device peak"
            + " (nvidia-smi, device-wide), the ledger's booked peak, the predicted peak, bytes moved"
            + " host to device per step and their rate, and the plan's bound. Defaults: 1024x1024,"
            + " 5 steps, fp8. --jobs N runs whole jobs (text, steps, decode, timed and peaked per"
            + " phase) on a synthetic model written once (--model-dir DIR keeps it). NewBie"
            + " (--synthetic newbie or newbie-tiny): each step is its Euler step with"
            + " classifier-free guidance (conditional and unconditional passes batched, until"
            + " --cfg-trunc) on caption features of Gemma's 512 tokens; its --jobs run on a"
            + " random-weight NewBie directory of the preset's shape, written likewise.")
final class BenchCommand implements EngineCommand {
  @Mixin HelpOption help = new HelpOption();

  @Mixin BudgetOption budgetOption = new BudgetOption();

  @Mixin ImageSizeOptions size = new ImageSizeOptions();

  @Option(
      names = "--synthetic",
      paramLabel = "NAME",
      required = true,
      description = "the preset: flux-dev, flux-schnell, shapes, tiny, newbie, newbie-tiny")
  String synthetic;

  @Option(
      names = "--steps",
      paramLabel = "N",
      converter = NumberConverters.IntValue.class,
      description = "denoising steps (default 5; 20 per job with --jobs)")
  Integer stepCount;

  @Option(
      names = "--storage",
      paramLabel = "fp8|fp16",
      description = "how the DiT's blocks are stored (default fp8)")
  String storageName = "fp8";

  @Mixin TargetOptions targetOptions = new TargetOptions();

  @Option(
      names = "--bandwidth",
      paramLabel = "RATE",
      description = "host-to-device bandwidth for the plan's bound, e.g. 25GB/s")
  String bandwidth;

  @Option(
      names = "--blocks",
      paramLabel = "scripted|djl",
      description = "the GPU's whole-block TorchScript modules (default there) or DJL's ops")
  String blockKind;

  @Option(
      names = "--matmul",
      paramLabel = "fp16|fp8",
      description = "the blocks' matrix products (default fp16; fp8 needs scripted blocks)")
  String matmul = "fp16";

  @Option(
      names = "--jobs",
      paramLabel = "N",
      converter = NumberConverters.IntValue.class,
      description = "whole jobs instead of DiT steps")
  Integer jobs;

  @Option(
      names = "--model-dir",
      paramLabel = "DIR",
      description = "with --jobs: the synthetic model's directory, written when empty")
  String modelDir;

  @Option(names = "--prompt", paramLabel = "TEXT", description = "with --jobs: every job's prompt")
  String prompt;

  @Option(
      names = "--cfg-trunc",
      paramLabel = "T",
      description =
          "NewBie: model time in [0, 1] from which the unconditional pass is skipped (default 1:"
              + " never)")
  Double cfgTrunc;

  private final PrintStream out;
  private final PrintStream err;

  BenchCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public int run() {
    String name = synthetic;
    NewbieDims newbie = NewbieDims.preset(name).orElse(null);
    FluxDims dims =
        newbie != null
            ? null
            : FluxDims.preset(name)
                .orElseThrow(
                    () ->
                        new UsageException(
                            "bench: --synthetic "
                                + name
                                + " is not a preset (known: "
                                + String.join(", ", FluxDims.presetNames())
                                + ", "
                                + String.join(", ", NewbieDims.presetNames())
                                + ")"));
    if (cfgTrunc != null && (newbie == null || !(cfgTrunc >= 0 && cfgTrunc <= 1))) {
      throw new UsageException(
          "bench: --cfg-trunc is NewBie's and a model time in [0, 1], got "
              + cfgTrunc
              + " for "
              + name);
    }
    long budget = budgetOption.bytes("bench");
    StorageType storage = StorageType.parse(storageName);
    int steps = stepCount != null ? stepCount : 5;
    if (steps < 1) {
      throw new UsageException("bench: --steps must be at least 1, got " + steps);
    }
    ComputeTarget target = targetOptions.target();
    Workload workload = new Workload(size.width, size.height, 1, storage);
    Hardware hardware = Hardware.DEFAULT;
    if (bandwidth != null) {
      hardware = hardware.withBandwidth(ByteSize.parseRate(bandwidth));
    }
    // The engine as it runs here: on a GPU the whole-block TorchScript modules ("scripted", the
    // default where they are on the class path) or DJL's ops with fused attention ("djl").
    boolean scripted = EngineProfiles.usesScriptedBlocks(target);
    String blocks = blockKind != null ? blockKind : scripted ? "scripted" : "djl";
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
    if (jobs != null) {
      return runJobs(name, storage, budget, hardware, engine, target, fp8Matmul);
    }
    if (newbie != null) {
      return runNewbieSteps(newbie, workload, budget, hardware, engine, steps, target);
    }
    ModelShape shape = ModelShape.preset(name);
    FluxMemoryModel memory = dims.memoryModel(workload, engine);
    PlanDecision decision = Planner.plan(memory, budget, hardware);
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
            memory,
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

  /** NewBie's denoising steps with guidance under the plan for {@code workload}. */
  private int runNewbieSteps(
      NewbieDims dims,
      Workload workload,
      long budget,
      Hardware hardware,
      EngineProfile engine,
      int steps,
      ComputeTarget target) {
    NewbieMemoryModel memory = dims.memoryModel(workload, engine);
    PlanDecision decision = Planner.plan(memory, budget, hardware);
    if (!decision.fits()) {
      err.println("engine: bench: " + decision.reason());
      return 2;
    }
    err.println("engine: bench: plan " + decision.chosen().name() + ": " + decision.reason());
    BenchResult r =
        NewbieDitBenchmark.run(
            dims,
            decision.chosen(),
            memory,
            budget,
            workload.width(),
            workload.height(),
            steps,
            cfgTrunc != null ? cfgTrunc.floatValue() : PlannedNewbiePipeline.CFG_TRUNCATION,
            target,
            hardware.bandwidthBytesPerSecond());
    out.println(r.toJson());
    return 0;
  }

  /**
   * Whole jobs ({@code --jobs N}) on a model directory: {@code --model-dir DIR} when it holds one,
   * else the {@code --synthetic} preset written there first with seeded random weights (kept for
   * the next run; without {@code --model-dir} a temporary directory, deleted after), FLUX's presets
   * by {@code SyntheticModelWriter}, NewBie's by {@code NewbieModelWriter}.
   */
  private int runJobs(
      String name,
      StorageType storage,
      long budget,
      Hardware hardware,
      EngineProfile engine,
      ComputeTarget target,
      boolean fp8Matmul) {
    if (jobs < 1) {
      throw new UsageException("bench: --jobs must be at least 1, got " + jobs);
    }
    int steps = stepCount != null ? stepCount : 20;
    if (steps < 1) {
      throw new UsageException("bench: --steps must be at least 1, got " + steps);
    }
    Path dir = modelDir != null ? Path.of(modelDir) : null;
    NewbieDims newbiePreset = NewbieDims.preset(name).orElse(null);
    boolean newbie = newbiePreset != null;
    boolean temporary = dir == null;
    try {
      if (temporary) {
        dir = Files.createTempDirectory("fleet-bench-model");
      }
      ModelLocation location =
          newbie
              ? SyntheticModels.writeNewbieUnlessPresent(newbiePreset, storage, dir, err)
              : ModelLocation.of(
                  SyntheticModels.writeUnlessPresent(ModelShape.preset(name), storage, dir, err));
      ModelFamily family = ModelFamilies.of(location);
      Workload workload =
          new Workload(
              size.width,
              size.height,
              1,
              family.ditStorage(location),
              family.storedBlocks(location));
      ModelDims modelDims = family.dims(location);
      if (newbie && !(modelDims instanceof NewbieDims)) {
        throw new UsageException(
            "bench: --model-dir "
                + dir
                + " is not a NewBie model (its family: "
                + family.name()
                + ")");
      }
      PlanDecision decision = Planner.plan(modelDims, workload, budget, hardware, engine);
      if (!decision.fits()) {
        err.println("engine: bench: " + decision.reason());
        return 2;
      }
      err.println("engine: bench: plan " + decision.chosen().name() + ": " + decision.reason());
      List<GenerationSpec> specs = new ArrayList<>();
      for (int i = 0; i < jobs; i++) {
        String prompt =
            this.prompt != null
                ? this.prompt
                : SyntheticModels.PROMPTS.get(i % SyntheticModels.PROMPTS.size());
        // NewBie: classifier-free guidance at its demo's scale, with an empty negative prompt.
        specs.add(
            newbie
                ? new GenerationSpec(
                    prompt,
                    42L + i,
                    steps,
                    workload.width(),
                    workload.height(),
                    PlannedNewbiePipeline.DEFAULTS.guidance(),
                    location.name(),
                    List.of(),
                    "",
                    cfgTrunc)
                : new GenerationSpec(
                    prompt,
                    42L + i,
                    steps,
                    workload.width(),
                    workload.height(),
                    modelDims.dit().guidanceEmbed() ? 3.5 : 0.0,
                    location.name()));
      }
      JobBenchResult r = JobBenchmark.run(location, decision, specs, target, fp8Matmul);
      out.println(JobBenchJson.of(r, budget));
      return 0;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "bench: cannot write the synthetic model: " + e.getMessage(), e);
    } finally {
      if (temporary && dir != null) {
        SyntheticModels.deleteQuietly(dir);
      }
    }
  }
}
