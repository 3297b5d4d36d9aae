package dev.fleet.worker;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** How this worker runs: which model it serves, for which memory class, and its limits. */
@ConfigMapping(prefix = "fleet.worker")
public interface WorkerConfig {

  /** Model directory in the FLUX.1-dev layout (default: the bundled tiny model). */
  @WithDefault("models/flux-tiny")
  Path modelDir();

  /** DiT checkpoint inside {@code transformer/} when there are several. */
  Optional<String> dit();

  /** The registry name jobs carry in {@code model}; a job for another model is refused. */
  @WithDefault("flux-tiny")
  String modelName();

  /** The memory class this worker serves: its Kafka topic. */
  @WithDefault("vram-8g")
  String memoryClass();

  /** Name recorded on the jobs it runs (default: host name and process id). */
  Optional<String> id();

  /** A job running longer than this ends TIMED_OUT. */
  @WithDefault("10m")
  Duration jobTimeout();

  /** Progress is written at most this often (and always for the last step). */
  @WithDefault("250ms")
  Duration progressInterval();

  /** cpu or gpu. */
  @WithDefault("cpu")
  String device();

  /** fp32 or fp16 (default: fp32 on cpu, fp16 on gpu). */
  Optional<String> precision();

  /** Whether to consume jobs; off only for tests of the parts around the consumer. */
  @WithDefault("true")
  boolean consume();
}
