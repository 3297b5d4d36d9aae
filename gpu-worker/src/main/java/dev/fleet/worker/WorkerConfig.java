package dev.fleet.worker;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** How this worker runs: which model it serves, for which memory class, and its limits. */
@ConfigMapping(prefix = "fleet.worker")
public interface WorkerConfig {

  /** Model directory in the FLUX.1-dev layout (default: the bundled trained model). */
  @WithDefault("models/flux-shapes")
  Path modelDir();

  /** DiT checkpoint inside {@code transformer/} when there are several. */
  Optional<String> dit();

  /** The registry name jobs carry in {@code model}; a job for another model is refused. */
  @WithDefault("flux-shapes")
  String modelName();

  /** The memory class this worker serves: its Kafka topic. */
  @WithDefault("vram-8g")
  String memoryClass();

  /**
   * Device memory this worker may use, e.g. {@code 8GiB} or {@code 7680MiB} (default: its memory
   * class's budget). Plans are fitted into it less a reserve; on CPU it is a virtual budget.
   */
  Optional<String> budget();

  /**
   * Width of the largest image the worker plans for when it loads the model: the plan it loads is
   * the fastest one under which such an image fits. Larger jobs are still admitted when some plan
   * fits them (they may then fall back to a leaner plan).
   */
  @WithDefault("1024")
  int maxWidth();

  /** Height of the largest image the worker plans for (see {@link #maxWidth()}). */
  @WithDefault("1024")
  int maxHeight();

  /**
   * Pinned host-to-device bandwidth the planner ranks plans with, e.g. {@code 25GB/s} (default: a
   * PCIe 4.0 x16 card's).
   */
  Optional<String> bandwidth();

  /** Name recorded on the jobs it runs (default: host name and process id). */
  Optional<String> id();

  /** A job running longer than this ends TIMED_OUT. */
  @WithDefault("10m")
  Duration jobTimeout();

  /**
   * Progress is written at most this often (and always for the last step). 0, the default, writes
   * every step, which is what the event stream promises clients; a step of a real model takes far
   * longer than the one UPDATE it costs. Raise it only for models whose steps take milliseconds.
   */
  @WithDefault("0s")
  Duration progressInterval();

  /** cpu or gpu. */
  @WithDefault("cpu")
  String device();

  /** fp32 or fp16 (default: fp32 on cpu, fp16 on gpu). */
  Optional<String> precision();

  /**
   * The directory of the LoRAs jobs name: {@code NAME.safetensors} is the LoRA {@code NAME}. The
   * gateway's {@code fleet.loras.dir} must hold the same files.
   */
  @WithDefault(".fleet/loras")
  Path lorasDir();

  /** Host memory the recently used LoRAs may keep, e.g. {@code 2GiB}. */
  @WithDefault("1GiB")
  String loraCacheBytes();

  /**
   * How long a stopping worker (SIGTERM) lets its running job finish before handing it back to the
   * queue with the same attempt. quarkus.shutdown.timeout and the chart's grace period exceed it.
   */
  @WithDefault("30s")
  Duration drainTimeout();

  /**
   * Multiply the DiT's float8-stored matrices in float8 on the GPU's fp8 tensor cores ({@code
   * torch._scaled_mm}, dynamic per-tensor activation scales) instead of widening them to float16.
   * Needs fp8 tensor cores (H100/H200, Ada: compute capability 8.9+); about 2 % relative error per
   * block against float16 compute, and so far slower than it on the H100 (docs/BENCHMARKS.md).
   */
  @WithDefault("false")
  boolean fp8Matmul();

  /**
   * How the DiT's blocks are held ({@code DitStorageRequest}): {@code native}, as the checkpoint
   * stores them, or {@code fp8}, a 16- or 32-bit NewBie-image checkpoint's block matrices narrowed
   * to e4m3fn with a per-tensor scale when loaded, and the memory plan made for that (FLUX: only an
   * fp8 checkpoint; asking a 16-bit FLUX checkpoint for fp8 stops the worker at start, naming why).
   */
  @WithDefault("native")
  String ditStorage();

  /**
   * How often the worker heartbeats the lease of the job it runs. The gateway re-queues a job whose
   * lease went without a heartbeat for {@code fleet.jobs.lease-expiry} (60s), which must be several
   * of these.
   */
  @WithDefault("10s")
  Duration heartbeatInterval();

  /**
   * How long a write a run cannot skip (taking the job, uploading the image, storing the terminal
   * state) is retried while PostgreSQL or S3 is away, before the job is re-queued or, for the
   * store, left to the lease reaper.
   */
  @WithDefault("2m")
  Duration retryPatience();
}
