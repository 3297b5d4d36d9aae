package dev.fleet.engine.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.family.ModelFamily;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.model.cli.HelpOption;
import dev.fleet.model.memory.AdapterLoad;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.DitResidency;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.Phase;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.Planner;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import dev.fleet.model.memory.Workload;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./fleet engine plan}: the memory planner's choice for one job shape under one budget, as
 * JSON. Exit 0 with {@code "fits": true}; exit 2 when no plan fits (the JSON then says what the job
 * needs), or when the command line is wrong.
 */
@Command(
    name = "./fleet engine plan",
    description =
        "The memory planner's choice for this job under a device budget, as JSON: the plan, its"
            + " predicted peak, bytes streamed per step, the per-step bound, each component's"
            + " residency and why faster plans were not taken. Exits 2 when nothing fits."
            + " Defaults: 1024x1024, batch 1, the checkpoint's storage (fp8 for --synthetic), a"
            + " PCIe 4 card (25 GB/s, 40 TFLOP/s), the engine as it is (djl-eager).")
final class PlanCommand implements EngineCommand {
  @Mixin HelpOption help = new HelpOption();

  @Mixin BudgetOption budgetOption = new BudgetOption();

  @Mixin ImageSizeOptions size = new ImageSizeOptions();

  @Option(
      names = "--synthetic",
      paramLabel = "NAME",
      description = "a preset instead of a model directory: flux-dev, flux-schnell, shapes, tiny")
  String synthetic;

  @Mixin ModelOptions modelOptions = new ModelOptions();

  @Option(
      names = "--batch",
      paramLabel = "N",
      converter = NumberConverters.IntValue.class,
      description = "images per forward pass (default 1)")
  int batch = 1;

  @Option(
      names = "--storage",
      paramLabel = "fp8|fp16",
      description = "how the DiT's blocks are stored (default: the checkpoint's)")
  String storageName;

  @Option(
      names = "--bandwidth",
      paramLabel = "RATE",
      description = "host-to-device bandwidth, e.g. 25GB/s")
  String bandwidth;

  @Option(
      names = "--tflops",
      paramLabel = "N",
      converter = NumberConverters.DoubleValue.class,
      description = "effective fp16 TFLOP/s (default 40)")
  Double tflops;

  @Option(
      names = "--engine",
      paramLabel = "PROFILE",
      description = "djl-eager (default), djl-per-op, torch-sdpa, ...")
  String engineName = EngineProfile.DJL_EAGER.name();

  @Option(
      names = "--lora",
      paramLabel = "FILE[:STRENGTH]",
      description = "plans with this LoRA's side paths; repeatable")
  List<String> loras = new ArrayList<>();

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final PrintStream out;
  private final PrintStream err;

  PlanCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public int run() {
    List<LoraOption> loraOptions = LoraOption.all(loras);
    DitLinears linears = null;
    long budget = budgetOption.bytes("plan");
    ModelDims dims;
    StorageType storage;
    StoredBlocks stored = null;
    if (synthetic != null) {
      if (modelOptions.given()) {
        throw new UsageException("plan: give --model DIR or --synthetic NAME, not both");
      }
      if (modelOptions.ditStorage != null) {
        throw new UsageException(
            "plan: --dit-storage needs --model DIR (a --synthetic preset is planned with --storage)");
      }
      String name = synthetic;
      ModelFamily family =
          ModelFamilies.withPreset(name)
              .orElseThrow(
                  () ->
                      new UsageException(
                          "plan: --synthetic "
                              + name
                              + " is not a preset (known: "
                              + String.join(", ", ModelFamilies.presetNames())
                              + ")"));
      dims =
          family
              .preset(name)
              .orElseThrow(
                  () ->
                      new UsageException(
                          "plan: --synthetic "
                              + name
                              + " is not a preset (known: "
                              + String.join(", ", ModelFamilies.presetNames())
                              + ")"));
      storage = StorageType.FP8;
      linears = family.loraTargets(dims);
    } else {
      if (modelOptions.model == null && System.getProperty("fleet.default.model") == null) {
        throw new UsageException(
            "plan: give --model DIR or --synthetic NAME ("
                + String.join(", ", ModelFamilies.presetNames())
                + ")");
      }
      ModelLocation location = modelOptions.location();
      ModelFamily family = ModelFamilies.of(location);
      dims = family.dims(location);
      storage = family.ditStorage(location, modelOptions.ditStorage());
      // Blocks measured from the checkpoint's dtypes unless they are narrowed when loaded.
      stored = storage == family.ditStorage(location) ? family.storedBlocks(location) : null;
      if (!loraOptions.isEmpty()) {
        if (family != ModelFamilies.DEFAULT) {
          linears = family.loraTargets(dims);
        } else {
          ModelDirectory model = modelOptions.resolve();
          try (var store = model.openTransformer()) {
            linears = DitLinears.of(FluxParams.infer(store, model.transformerConfig()));
          }
        }
      }
    }
    if (storageName != null) {
      storage = StorageType.parse(storageName);
      stored = null; // what the command line asks for, not what the checkpoint stores
    }
    Workload workload = new Workload(size.width, size.height, batch, storage, stored);
    LoraStack stack = LoraOption.read(loraOptions);
    for (var l : stack.loras()) {
      linears.check(l.adapter());
    }
    workload =
        workload.withAdapters(
            new AdapterLoad(
                stack.deviceBytes(linears, (int) StorageType.COMPUTE.bytes()), stack.widestRank()));
    Hardware hardware = Hardware.DEFAULT;
    if (bandwidth != null) {
      hardware = hardware.withBandwidth(rate(bandwidth));
    }
    if (tflops != null) {
      hardware = hardware.withTflops(tflops);
    }
    EngineProfile engine = EngineProfile.preset(engineName);
    MemoryModel memory = dims.memoryModel(workload, engine);
    PlanDecision decision = Planner.plan(memory, budget, hardware);
    out.println(write(json(decision, dims, workload, hardware, engine, memory)));
    if (!decision.fits()) {
      err.println("engine: plan: " + decision.reason());
      return 2;
    }
    return 0;
  }

  private static double rate(String text) {
    try {
      return ByteSize.parseRate(text);
    } catch (IllegalArgumentException e) {
      throw new UsageException("plan: --bandwidth: " + e.getMessage());
    }
  }

  private static ObjectNode json(
      PlanDecision d,
      ModelDims dims,
      Workload w,
      Hardware hw,
      EngineProfile engine,
      MemoryModel memory) {
    ObjectNode o = JSON.createObjectNode();
    o.put("fits", d.fits());
    o.put("plan", d.fits() ? d.chosen().name() : null);
    o.put("reason", d.reason());
    o.put("model", dims.name());
    o.put("width", w.width());
    o.put("height", w.height());
    o.put("batch", w.batch());
    o.put("storage", w.ditStorage().label());
    // Block sizes measured from the checkpoint's dtypes (a --model without --storage).
    o.put("storageMeasured", w.storedBlocks() != null);
    o.put("doubleBlockBytes", memory.doubleBlockBytes());
    o.put("singleBlockBytes", memory.singleBlockBytes());
    // LoRA side paths (factors and their extra activation), part of the denoising phase
    o.put("loraBytes", memory.adapterBytes());
    o.put("budgetBytes", d.budgetBytes());
    o.put("reserveBytes", d.reserveBytes());
    o.put("usableBytes", d.usableBytes());
    o.put("neededBytes", d.neededBytes());
    if (d.fits()) {
      describe(o, d.chosen(), memory);
    } else {
      o.put("leanestPlan", d.leanest().name());
      o.put("leanestPeakBytes", d.leanest().predictedPeakBytes());
    }
    ObjectNode h = o.putObject("hardware");
    h.put("bandwidthBytesPerSecond", hw.bandwidthBytesPerSecond());
    h.put("effectiveTflops", hw.effectiveTflops());
    o.put("engine", engine.name());
    ArrayNode alternatives = o.putArray("alternatives");
    for (PlanDecision.Alternative alt : d.alternatives()) {
      Plan p = alt.plan();
      ObjectNode a = alternatives.addObject();
      a.put("plan", p.name());
      a.put("fits", alt.fits());
      a.put("predictedPeakBytes", p.predictedPeakBytes());
      a.put("peakPhase", p.peakPhase().label());
      a.put("streamedBytesPerStep", p.streamedBytesPerStep());
      a.put("boundSecondsPerStep", p.boundSecondsPerStep());
      a.put("why", alt.why());
    }
    return o;
  }

  /** The chosen plan's numbers and residencies, at the top level. */
  private static void describe(ObjectNode o, Plan p, MemoryModel memory) {
    o.put("predictedPeakBytes", p.predictedPeakBytes());
    o.put("peakPhase", p.peakPhase().label());
    ObjectNode phases = o.putObject("phasePeakBytes");
    for (Phase phase : Phase.values()) {
      phases.put(phase.label(), p.phases().of(phase));
    }
    o.put("streamedBytesPerStep", p.streamedBytesPerStep());
    o.put("loadedBytesPerJob", p.loadedBytesPerJob());
    o.put("computeSecondsPerStep", p.computeSecondsPerStep());
    o.put("transferSecondsPerStep", p.transferSecondsPerStep());
    o.put("boundSecondsPerStep", p.boundSecondsPerStep());
    o.put("bound", p.transferBound() ? "transfer" : "compute");
    ObjectNode residency = o.putObject("residency");
    DitResidency dit = p.dit();
    ObjectNode r = residency.putObject("dit");
    r.put("storage", dit.storage().label());
    r.put("residentDoubleBlocks", dit.residentDoubleBlocks());
    r.put("doubleBlocks", dit.doubleBlocks());
    r.put("residentSingleBlocks", dit.residentSingleBlocks());
    r.put("singleBlocks", dit.singleBlocks());
    r.put("residentBytes", memory.ditNonBlockBytes() + memory.residentBlockBytes(dit));
    residency.put("t5", p.t5().label());
    // The first text encoder's layer matrices: fp16, or fp8 widened per layer (NewBie's Gemma).
    residency.put("t5Storage", p.t5Storage().label());
    residency.put("clip", p.clip().label());
    residency.put("autoencoder", p.autoencoder().label());
    // What the t5 and clip slots hold in this model's family (FLUX: t5, clip; NewBie: gemma3 ...).
    ObjectNode encoders = residency.putObject("textEncoders");
    encoders.put("t5", memory.textEncoders().get(0));
    encoders.put("clip", memory.textEncoders().get(1));
    ObjectNode decode = o.putObject("decode");
    decode.put("tiled", p.decodeTiled());
    decode.put("tile", p.decodeTile());
    ObjectNode attention = o.putObject("attention");
    attention.put("chunked", p.attentionChunked());
    attention.put("chunk", p.attentionChunk());
  }

  private static String write(ObjectNode o) {
    try {
      return JSON.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
