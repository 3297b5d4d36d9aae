package dev.fleet.worker;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.pipeline.FluxPipeline;
import dev.fleet.engine.pipeline.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Locale;
import org.jboss.logging.Logger;

/** The worker's one loaded pipeline: loaded at start, kept warm for every job, closed at stop. */
@Startup
@ApplicationScoped
public class ModelRuntime {
  private static final Logger LOG = Logger.getLogger(ModelRuntime.class);

  private final FluxPipeline pipeline;

  public ModelRuntime(WorkerConfig config) {
    ComputeTarget target = target(config);
    long start = System.nanoTime();
    this.pipeline =
        FluxPipeline.load(
            ModelDirectory.resolve(config.modelDir(), config.dit().orElse(null)), target);
    LOG.infof(
        "model %s (%s) loaded from %s on %s/%s in %.1f s",
        config.modelName(),
        pipeline.params().guidanceEmbed() ? "guidance-distilled" : "schnell",
        config.modelDir(),
        target.device(),
        target.dtype(),
        (System.nanoTime() - start) / 1e9);
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

  public FluxPipeline pipeline() {
    return pipeline;
  }

  @PreDestroy
  void close() {
    pipeline.close();
  }
}
