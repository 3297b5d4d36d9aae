package dev.fleet.worker;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.family.DitStorageRequest;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.family.ModelFamily;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.gpu.GpuExecution;
import dev.fleet.engine.gpu.TorchScriptHelpers;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.lora.UnsupportedLoraException;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.memory.AdapterLoad;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.PlanDecision;
import dev.fleet.model.memory.StorageType;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * The worker's one loaded pipeline and the memory plans it runs under: loaded at start, kept warm
 * for every job, closed at stop.
 *
 * <p>At start the planner picks the fastest plan under which the largest image the worker plans for
 * ({@code fleet.worker.max-width} x {@code max-height}) fits the budget; the pipeline loads it,
 * with the decision's leaner fitting plans behind it as fallbacks for a job that runs out of
 * memory. When nothing fits, the worker does not start.
 */
@Startup
@ApplicationScoped
public class ModelRuntime {
  private static final Logger LOG = Logger.getLogger(ModelRuntime.class);

  private final GenerationPipeline pipeline;
  private final MemoryAdmission admission;
  private final WorkerLoras loras;

  /** The GPU helpers the pipeline runs with; null where they do not run (CPU). */
  private final TorchScriptHelpers helpers;

  public ModelRuntime(WorkerConfig config, MeterRegistry metrics) {
    ComputeTarget target = target(config);
    ModelLocation model = new ModelLocation(config.modelDir(), config.dit().orElse(null));
    ModelFamily family = ModelFamilies.of(model);
    DitStorageRequest ditRequest = ditStorage(config);
    StorageType ditStorage = family.ditStorage(model, ditRequest);
    long budget = budget(config);
    this.loras = new WorkerLoras(config.lorasDir(), loraCacheBytes(config));
    this.admission =
        new MemoryAdmission(
            family.dims(model),
            ditStorage,
            budget,
            hardware(config),
            EngineProfiles.forTarget(target),
            // Measured from the checkpoint's dtypes unless its blocks are narrowed when loaded.
            ditStorage == family.ditStorage(model) ? family.storedBlocks(model) : null);
    PlanDecision decision = admission.planForLoad(config.maxWidth(), config.maxHeight());
    List<ExecutionPlan> plans = PlanMapping.fallbackLadder(decision);
    LOG.infof(
        "memory plan for %dx%d under %s (%s, %s, DiT blocks %s): %s",
        config.maxWidth(),
        config.maxHeight(),
        ByteSize.exact(budget),
        config.budget().isPresent() ? "fleet.worker.budget" : "class " + config.memoryClass(),
        admission.engine().name(),
        ditStorage.label(),
        decision.reason());
    LOG.infof(
        "plans to load, fastest first: %s",
        plans.stream().map(ModelRuntime::describe).collect(Collectors.joining("; ")));
    long start = System.nanoTime();
    this.helpers =
        EngineProfiles.usesHelpers(target) ? TorchScriptHelpers.load(target.device()) : null;
    try {
      this.pipeline =
          family.load(
              model,
              target,
              plans,
              GpuExecution.options(
                  ExecutionOptions.defaults()
                      .withListener(new PlanEventLog(metrics, config.memoryClass())),
                  helpers,
                  target,
                  config.fp8Matmul()),
              ditRequest);
    } catch (RuntimeException e) {
      if (helpers != null) {
        helpers.close();
      }
      throw e;
    }
    LOG.infof(
        "model %s (%s) loaded from %s on %s/%s under plan %s in %.1f s",
        config.modelName(),
        pipeline.defaults().kind(),
        config.modelDir(),
        target.device(),
        target.dtype(),
        pipeline.currentPlan().name(),
        (System.nanoTime() - start) / 1e9);
  }

  /** {@code fleet.worker.dit-storage}, parsed. */
  static DitStorageRequest ditStorage(WorkerConfig config) {
    try {
      return DitStorageRequest.parse(config.ditStorage());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("fleet.worker.dit-storage: " + e.getMessage(), e);
    }
  }

  /** A plan as the executor runs it, for the log. */
  static String describe(ExecutionPlan p) {
    return String.format(
        Locale.ROOT,
        "%s (%d+%d blocks resident, T5 %s, autoencoder %s, decode tile %s, attention chunk %s)",
        p.name(),
        p.residentDoubleBlocks(),
        p.residentSingleBlocks(),
        p.t5().label(),
        p.autoencoder().label(),
        p.tiledDecode() ? p.vaeTile() + " latent cells" : "none",
        p.chunkedAttention() ? p.attentionChunk() + " queries" : "none");
  }

  /** The configured budget, or the memory class's. */
  static long budget(WorkerConfig config) {
    if (config.budget().isPresent()) {
      try {
        return ByteSize.parse(config.budget().get());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("fleet.worker.budget: " + e.getMessage(), e);
      }
    }
    return MemoryClass.byName(config.memoryClass())
        .map(MemoryClass::budgetBytes)
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "fleet.worker.memory-class "
                        + config.memoryClass()
                        + " is none of "
                        + Arrays.toString(MemoryClass.values())
                        + ", so fleet.worker.budget must say how much device memory to use"));
  }

  static long loraCacheBytes(WorkerConfig config) {
    try {
      return ByteSize.parse(config.loraCacheBytes());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("fleet.worker.lora-cache-bytes: " + e.getMessage(), e);
    }
  }

  static Hardware hardware(WorkerConfig config) {
    if (config.bandwidth().isEmpty()) {
      return Hardware.DEFAULT;
    }
    try {
      return Hardware.DEFAULT.withBandwidth(ByteSize.parseRate(config.bandwidth().get()));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("fleet.worker.bandwidth: " + e.getMessage(), e);
    }
  }

  static ComputeTarget target(WorkerConfig config) {
    boolean gpu =
        switch (config.device().toLowerCase(Locale.ROOT)) {
          case "cpu" -> false;
          case "gpu" -> true;
          case "auto" -> Engine.getInstance().getGpuCount() > 0;
          default ->
              throw new IllegalArgumentException(
                  "fleet.worker.device must be cpu, gpu or auto, got " + config.device());
        };
    if (gpu && Engine.getInstance().getGpuCount() == 0) {
      throw new IllegalStateException(
          "fleet.worker.device=gpu but DJL's PyTorch engine sees no GPU");
    }
    String precision = config.precision().orElse(gpu ? "fp16" : "fp32");
    DataType dtype =
        switch (precision) {
          case "fp32" -> DataType.FLOAT32;
          case "fp16" -> DataType.FLOAT16;
          default ->
              throw new IllegalArgumentException(
                  "fleet.worker.precision must be fp32 or fp16, got " + precision);
        };
    return new ComputeTarget(gpu ? Device.gpu() : Device.cpu(), dtype);
  }

  public GenerationPipeline pipeline() {
    return pipeline;
  }

  /** Whether a job fits this worker's budget. */
  public MemoryAdmission admission() {
    return admission;
  }

  /** The LoRAs jobs name, read through the worker's bounded cache. */
  public WorkerLoras loras() {
    return loras;
  }

  /**
   * Empty when the job, with its LoRAs, fits this worker's budget under some plan; otherwise why
   * not.
   *
   * @throws UnsupportedLoraException when a LoRA of the job is missing, unreadable or does not fit
   *     the model
   */
  public Optional<String> refusal(GenerationSpec spec) {
    if (spec.loras().isEmpty()) {
      return admission.refusal(spec);
    }
    LoraStack stack = loras.resolve(spec.loras());
    DitLinears linears = pipeline.loraTargets();
    for (var l : stack.loras()) {
      linears.check(l.adapter());
    }
    int dtypeBytes = (int) StorageType.COMPUTE.bytes();
    return admission.refusal(
        spec, new AdapterLoad(stack.deviceBytes(linears, dtypeBytes), stack.widestRank()));
  }

  /**
   * One job under the loaded plan, with its LoRAs, retried once under a leaner plan if memory runs
   * out.
   *
   * @throws UnsupportedLoraException when a LoRA of the job is missing or unreadable
   */
  public GeneratedImage generate(GenerationSpec spec, GenerationListener listener) {
    LoraStack stack = loras.resolve(spec.loras());
    return pipeline.generate(spec, null, listener, stack).image();
  }

  @PreDestroy
  void close() {
    try {
      pipeline.close();
    } finally {
      if (helpers != null) {
        helpers.close();
      }
    }
  }
}
