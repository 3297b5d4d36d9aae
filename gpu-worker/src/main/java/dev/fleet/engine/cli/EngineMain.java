package dev.fleet.engine.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.pipeline.TraceRecorder;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextModel;
import dev.fleet.engine.text.ClipTextOutput;
import dev.fleet.engine.text.T5Encoder;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.GenerationSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code ./fleet engine ...}: the engine without the fleet. Exit codes: 0 done, 2 the command line
 * or an input file is wrong (the message says which), 1 the run itself failed.
 */
public final class EngineMain {
  private static final Set<String> COMMON = Set.of("model", "dit", "precision", "device");

  private final PrintStream out;
  private final PrintStream err;

  EngineMain(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  /** Held so that the level set on it is not garbage-collected with the logger. */
  private static final java.util.logging.Logger DJL_LOG =
      java.util.logging.Logger.getLogger("ai.djl");

  public static void main(String[] argv) {
    // DJL's start-up chatter (engine, threads, a CUDA probe on CPU machines) is not the user's
    // news.
    DJL_LOG.setLevel(java.util.logging.Level.SEVERE);
    System.exit(new EngineMain(System.out, System.err).run(argv));
  }

  int run(String... argv) {
    if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help")) {
      out.print(USAGE);
      return 0;
    }
    List<String> rest = Arrays.asList(argv).subList(1, argv.length);
    try {
      return switch (argv[0]) {
        case "generate" -> generate(rest);
        case "parity" -> parity(rest);
        case "plan" -> new PlanCommand(out, err).run(rest);
        case "bench" -> new BenchCommand(out, err).run(rest);
        default ->
            throw new UsageException(
                "unknown engine command '" + argv[0] + "' (try: ./fleet engine help)");
      };
    } catch (UsageException | IllegalArgumentException | SafetensorsException e) {
      err.println("engine: " + e.getMessage());
      return 2;
    } catch (RuntimeException | IOException e) {
      err.println("engine: failed: " + e);
      if (System.getenv("FLEET_DEBUG") != null) {
        e.printStackTrace(err);
      }
      return 1;
    }
  }

  private int generate(List<String> argv) throws IOException {
    Set<String> known =
        union(
            COMMON,
            "prompt",
            "seed",
            "steps",
            "width",
            "height",
            "guidance",
            "out",
            "trace",
            "noise");
    Args a = Args.parse("generate", argv, known, Set.of("lora"));
    ModelDirectory model = ModelDirectory.resolve(modelPath(a), a.get("dit", null));
    List<LoraOption> loraOptions = LoraOption.all(a.all("lora"));
    LoraStack loras = LoraOption.read(loraOptions);
    Path outPng = Path.of(a.required("out"));
    long seed = a.longValue("seed", -1);
    if (seed == -1) {
      seed = new SecureRandom().nextLong(GenerationSpec.MAX_SEED + 1);
      err.println("engine: seed " + seed);
    }
    ComputeTarget target = target(a);
    float[] noise = a.has("noise") ? readNoise(Path.of(a.get("noise", null))) : null;
    // Every component resident, no budget: the one plan of a run without a fleet.
    try (PlannedPipeline pipeline =
        ModelFamilies.of(model)
            .load(
                model,
                target,
                List.of(ExecutionPlan.allResident(Long.MAX_VALUE)),
                ExecutionOptions.defaults())) {
      FluxParams params = pipeline.params();
      GenerationSpec spec =
          new GenerationSpec(
              a.required("prompt"),
              seed,
              a.intValue("steps", params.guidanceEmbed() ? 28 : 4),
              a.intValue("width", 1024),
              a.intValue("height", 1024),
              a.doubleValue("guidance", params.guidanceEmbed() ? 3.5 : 0),
              model.name(),
              LoraOption.refs(loraOptions));
      TraceRecorder trace = a.has("trace") ? new TraceRecorder() : null;
      long start = System.nanoTime();
      GenerationListener progress =
          new GenerationListener() {
            @Override
            public void onStep(int step, int steps) {
              err.printf(
                  Locale.ROOT,
                  "engine: step %d/%d (%.1f s)%n",
                  step,
                  steps,
                  (System.nanoTime() - start) / 1e9);
            }

            @Override
            public boolean wantsTensors() {
              return trace != null;
            }

            @Override
            public void onTensor(String name, NDArray value) {
              trace.onTensor(name, value);
            }
          };
      GeneratedImage image = pipeline.generate(spec, noise, progress, loras).image();
      writeAtomically(outPng, image.png());
      if (trace != null) {
        trace.write(Path.of(a.get("trace", null)));
      }
      out.printf(
          Locale.ROOT,
          "{\"out\":\"%s\",\"width\":%d,\"height\":%d,\"seed\":%d,\"steps\":%d,\"seconds\":%.2f}%n",
          outPng,
          image.width(),
          image.height(),
          spec.seed(),
          spec.steps(),
          (System.nanoTime() - start) / 1e9);
    }
    return 0;
  }

  private int parity(List<String> argv) throws IOException {
    Args a = Args.parse("parity", argv, union(COMMON, "inputs", "out"));
    ModelDirectory model = ModelDirectory.resolve(modelPath(a), a.get("dit", null));
    ComputeTarget target = target(a);
    Path outFile = Path.of(a.required("out"));
    SafetensorsWriter writer = new SafetensorsWriter();
    List<String> written = new java.util.ArrayList<>();
    try (TensorStore inputs = TensorStore.open(Path.of(a.required("inputs")));
        NDManager manager = NDManager.newBaseManager(target.device())) {
      // Inputs stay float32: every model casts to its compute dtype itself, and positions and
      // timesteps are embedded in float32.
      Weights in = new Weights(inputs, new ComputeTarget(target.device(), DataType.FLOAT32));
      if (inputs.contains("dit.in.img")) {
        try (TensorStore store = model.openTransformer();
            FluxTransformer dit =
                FluxTransformer.load(
                    new Weights(store, target),
                    FluxParams.infer(store, model.transformerConfig()))) {
          NDArray guidance =
              inputs.contains("dit.in.guidance") ? in.load("dit.in.guidance", manager) : null;
          NDArray y =
              dit.forward(
                  in.load("dit.in.img", manager),
                  in.load("dit.in.img_ids", manager),
                  in.load("dit.in.txt", manager),
                  in.load("dit.in.txt_ids", manager),
                  in.load("dit.in.y", manager),
                  in.load("dit.in.timesteps", manager),
                  guidance);
          put(writer, written, "dit.out", y);
        }
      }
      if (inputs.contains("vae.in.z") || inputs.contains("vae.in.image")) {
        try (AutoEncoder vae = model.loadVae(target)) {
          if (inputs.contains("vae.in.z")) {
            put(writer, written, "vae.out.decoded", vae.decode(in.load("vae.in.z", manager)));
          }
          if (inputs.contains("vae.in.image")) {
            put(
                writer,
                written,
                "vae.out.latent_mean_scaled",
                vae.encode(in.load("vae.in.image", manager)));
          }
        }
      }
      if (inputs.contains("t5.in.ids")) {
        try (T5Encoder t5 = model.loadT5(target)) {
          put(
              writer,
              written,
              "t5.out.last_hidden_state",
              t5.forward(in.load("t5.in.ids", manager)));
        }
      }
      if (inputs.contains("clip.in.ids")) {
        try (ClipTextModel clip = model.loadClip(target)) {
          ClipTextOutput o = clip.forward(in.load("clip.in.ids", manager));
          put(writer, written, "clip.out.pooler_output", o.pooledOutput());
          put(writer, written, "clip.out.last_hidden_state", o.lastHiddenState());
        }
      }
    }
    if (written.isEmpty()) {
      throw new UsageException(
          "parity: the inputs hold none of dit.in.img, vae.in.z, vae.in.image, t5.in.ids, clip.in.ids");
    }
    writer.write(outFile);
    out.println("{\"out\":\"" + outFile + "\",\"tensors\":" + toJson(written) + "}");
    return 0;
  }

  private static void put(SafetensorsWriter w, List<String> written, String name, NDArray value) {
    NDArray f = value.toType(DataType.FLOAT32, false);
    w.addFloats(name, f.getShape().getShape(), f.toFloatArray());
    written.add(name);
  }

  private static float[] readNoise(Path file) {
    try (TensorStore s = TensorStore.open(file)) {
      var e = s.entry("pipe.noise");
      if (e.dtype() != dev.fleet.engine.safetensors.DType.F32) {
        throw new SafetensorsException(
            file.toString(), "pipe.noise", "must be F32, is " + e.dtype());
      }
      FloatBuffer fb = s.bytes("pipe.noise").asFloatBuffer();
      float[] noise = new float[fb.remaining()];
      fb.get(noise);
      return noise;
    }
  }

  private static Path modelPath(Args a) {
    String dir = a.get("model", System.getProperty("fleet.default.model"));
    if (dir == null) {
      throw new UsageException("missing --model DIR (or FLEET_MODEL)");
    }
    return Path.of(dir);
  }

  /** fp32 on CPU by default, fp16 on GPU by default; a GPU that DJL cannot see is an error. */
  static ComputeTarget target(Args a) {
    String device = a.get("device", "cpu").toLowerCase(Locale.ROOT);
    Device d =
        switch (device) {
          case "cpu" -> Device.cpu();
          case "gpu", "cuda" -> {
            if (Engine.getInstance().getGpuCount() == 0) {
              throw new UsageException(
                  "--device gpu: DJL's PyTorch engine sees no GPU on this machine");
            }
            yield Device.gpu();
          }
          default -> throw new UsageException("--device must be cpu or gpu, got '" + device + "'");
        };
    String precision = a.get("precision", d.isGpu() ? "fp16" : "fp32").toLowerCase(Locale.ROOT);
    DataType dt =
        switch (precision) {
          case "fp32", "float32" -> DataType.FLOAT32;
          case "fp16", "float16" -> DataType.FLOAT16;
          default ->
              throw new UsageException("--precision must be fp32 or fp16, got '" + precision + "'");
        };
    return new ComputeTarget(d, dt);
  }

  private static void writeAtomically(Path out, byte[] bytes) throws IOException {
    Path abs = out.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName().toString(), ".tmp");
    Files.write(tmp, bytes);
    Files.move(
        tmp,
        abs,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private static Set<String> union(Set<String> base, String... more) {
    java.util.Set<String> s = new java.util.TreeSet<>(base);
    s.addAll(List.of(more));
    return s;
  }

  private static String toJson(List<String> names) {
    return names.stream()
        .map(n -> "\"" + n + "\"")
        .collect(java.util.stream.Collectors.joining(",", "[", "]"));
  }

  private static final String USAGE =
      """
      Usage: ./fleet engine COMMAND [OPTIONS]

        generate --prompt TEXT [--seed N] [--steps N] [--width W] [--height H] [--guidance G]
                 --out OUT.png [--trace TRACE.safetensors] [--noise NOISE.safetensors]
                 [--lora FILE[:STRENGTH]]...
            The whole pipeline: text encoders, DiT denoising, autoencoder decode, PNG with the
            generation parameters as text chunks. --noise reads the initial noise from tensor
            pipe.noise; without it the seed draws it exactly as torch.randn on a CPU generator.
            Width and height must be multiples of 16. Defaults: 1024x1024, 28 steps and guidance
            3.5 for guidance-distilled (dev) models, 4 steps for schnell, a random seed.
            --lora applies a LoRA file (kohya, diffusers/PEFT, XLabs or BFL/ComfyUI layout) at a
            strength (1.0 when omitted; the text after the last ':' when it is a number);
            repeatable, the adapters add up. Applied in compute precision beside the weights, never
            merged into them; a file with keys the engine does not understand is refused (exit 2).
        parity --inputs IN.safetensors --out OUT.safetensors
            Runs whichever of dit.in.*, vae.in.z, vae.in.image, t5.in.ids, clip.in.ids are present
            and writes dit.out, vae.out.decoded, vae.out.latent_mean_scaled,
            t5.out.last_hidden_state, clip.out.pooler_output, clip.out.last_hidden_state (F32).
        plan --budget SIZE (--model DIR [--dit FILE] | --synthetic flux-dev|flux-schnell|tiny)
             [--width W] [--height H] [--batch N] [--storage fp8|fp16] [--bandwidth 25GB/s]
             [--tflops 40] [--engine djl-eager|djl-per-op|torch-sdpa] [--lora FILE[:STRENGTH]]...
            The memory planner's choice for this job under a device budget (8GiB, 512MiB, 12G, or
            bytes), as JSON: the plan, its predicted peak, bytes streamed per step, the per-step
            bound, each component's residency and why faster plans were not taken. Exits 2 when
            nothing fits. Defaults: 1024x1024, batch 1, the checkpoint's storage (fp8 for
            --synthetic), a PCIe 4 card (25 GB/s, 40 TFLOP/s), the engine as it is (djl-eager).
        bench --synthetic flux-dev|flux-schnell|tiny --budget SIZE [--width W] [--height H]
              [--steps N] [--storage fp8|fp16] [--device cpu|gpu] [--bandwidth 25GB/s]
            Real denoising steps of a DiT of that shape with random weights made in place (no
            download), under the plan the planner picks for the budget: the plan's blocks resident,
            the rest streamed every step. Prints JSON: s/step, measured device peak (nvidia-smi,
            device-wide), the ledger's booked peak, the predicted peak, bytes moved host to device
            per step and their rate, and the plan's bound. Defaults: 1024x1024, 5 steps, fp8.

      Common options:
        --model DIR        model directory in the FLUX.1-dev layout (default: FLEET_MODEL or the
                           bundled tiny random-weight model)
        --dit FILE         DiT checkpoint inside DIR/transformer/ (or an absolute path)
        --device cpu|gpu   default cpu
        --precision fp32|fp16  default fp32 on cpu, fp16 on gpu
      """;
}
