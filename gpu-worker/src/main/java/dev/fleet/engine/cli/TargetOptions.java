package dev.fleet.engine.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.weights.ComputeTarget;
import java.util.Locale;
import picocli.CommandLine.Option;

/** {@code --device} and {@code --precision}: where a command computes (a picocli mixin). */
final class TargetOptions {
  @Option(names = "--device", paramLabel = "cpu|gpu", description = "default cpu")
  String device = "cpu";

  @Option(
      names = "--precision",
      paramLabel = "fp32|fp16",
      description = "default fp32 on cpu, fp16 on gpu")
  String precision;

  /** fp32 on CPU by default, fp16 on GPU by default; a GPU that DJL cannot see is an error. */
  ComputeTarget target() {
    String name = device.toLowerCase(Locale.ROOT);
    Device d =
        switch (name) {
          case "cpu" -> Device.cpu();
          case "gpu", "cuda" -> {
            if (Engine.getInstance().getGpuCount() == 0) {
              throw new UsageException(
                  "--device gpu: DJL's PyTorch engine sees no GPU on this machine");
            }
            yield Device.gpu();
          }
          default -> throw new UsageException("--device must be cpu or gpu, got '" + name + "'");
        };
    String p =
        (precision != null ? precision : d.isGpu() ? "fp16" : "fp32").toLowerCase(Locale.ROOT);
    DataType dt =
        switch (p) {
          case "fp32", "float32" -> DataType.FLOAT32;
          case "fp16", "float16" -> DataType.FLOAT16;
          default -> throw new UsageException("--precision must be fp32 or fp16, got '" + p + "'");
        };
    return new ComputeTarget(d, dt);
  }
}
