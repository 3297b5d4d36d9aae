package dev.fleet.engine.cli;

import ai.djl.ndarray.NDArray;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.pipeline.SamplingDefaults;
import dev.fleet.engine.pipeline.TraceRecorder;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.cli.HelpOption;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./fleet engine generate}: the whole pipeline in-process, one PNG. */
@Command(
    name = "./fleet engine generate",
    description =
        "The whole pipeline: text encoders, DiT denoising, autoencoder decode, PNG with the"
            + " generation parameters as text chunks. Width and height must be multiples of 16."
            + " Defaults: 1024x1024, 28 steps and guidance 3.5 for guidance-distilled (dev) models,"
            + " 4 steps for schnell, 28 steps at classifier-free guidance 5 for NewBie-image, a"
            + " random seed.")
final class GenerateCommand implements EngineCommand {
  @Mixin HelpOption help = new HelpOption();

  @Mixin ImageSizeOptions size = new ImageSizeOptions();

  @Option(names = "--prompt", paramLabel = "TEXT", required = true, description = "the prompt")
  String prompt;

  @Option(
      names = "--seed",
      paramLabel = "N",
      converter = NumberConverters.LongValue.class,
      description = "0 to 4294967295 (default: a random one)")
  long seedOption = -1;

  @Option(
      names = "--steps",
      paramLabel = "N",
      converter = NumberConverters.IntValue.class,
      description = "sampling steps (default 28 for dev models, 4 for schnell)")
  Integer steps;

  @Option(
      names = "--guidance",
      paramLabel = "G",
      converter = NumberConverters.DoubleValue.class,
      description =
          "distilled guidance (default 3.5 for dev models, 0 for schnell), or the classifier-free"
              + " guidance scale of NewBie-image (default 5)")
  Double guidance;

  @Option(
      names = "--negative-prompt",
      paramLabel = "TEXT",
      description =
          "the unconditional pass's caption of a model with classifier-free guidance (NewBie-image;"
              + " default none); FLUX has no unconditional pass and ignores it")
  String negativePrompt = "";

  @Option(
      names = "--cfg-truncation",
      paramLabel = "T",
      converter = NumberConverters.DoubleValue.class,
      description =
          "model time in [0, 1] from which the unconditional pass is skipped (NewBie-image;"
              + " default 1: never); FLUX ignores it")
  Double cfgTruncation;

  @Option(names = "--out", paramLabel = "OUT.png", required = true, description = "the PNG")
  String out;

  @Option(
      names = "--trace",
      paramLabel = "TRACE.safetensors",
      description =
          "writes every intermediate (pipe.noise, pipe.timesteps, pipe.latents.step{k},"
              + " pipe.image)")
  String traceFile;

  @Option(
      names = "--noise",
      paramLabel = "NOISE.safetensors",
      description =
          "reads the initial noise from tensor pipe.noise; without it the seed draws it exactly as"
              + " torch.randn on a CPU generator")
  String noiseFile;

  @Option(
      names = "--lora",
      paramLabel = "FILE[:STRENGTH]",
      description =
          "applies a LoRA file (kohya, diffusers/PEFT, XLabs or BFL/ComfyUI layout) at a strength"
              + " (1.0 when omitted; the text after the last ':' when it is a number); repeatable,"
              + " the adapters add up. Applied in compute precision beside the weights, never"
              + " merged into them; a file with keys the engine does not understand is refused"
              + " (exit 2).")
  List<String> loras = new ArrayList<>();

  @Mixin ModelOptions modelOptions = new ModelOptions();

  @Mixin TargetOptions targetOptions = new TargetOptions();

  private final PrintStream stdout;
  private final PrintStream err;

  GenerateCommand(PrintStream stdout, PrintStream err) {
    this.stdout = stdout;
    this.err = err;
  }

  @Override
  public int run() throws IOException {
    ModelLocation model = modelOptions.location();
    List<LoraOption> loraOptions = LoraOption.all(loras);
    LoraStack stack = LoraOption.read(loraOptions);
    Path outPng = Path.of(out);
    long seed = seedOption;
    if (seed == -1) {
      seed = new SecureRandom().nextLong(GenerationSpec.MAX_SEED + 1);
      err.println("engine: seed " + seed);
    }
    ComputeTarget target = targetOptions.target();
    float[] noise = noiseFile != null ? readNoise(Path.of(noiseFile)) : null;
    // Every component resident, no budget: the one plan of a run without a fleet.
    try (GenerationPipeline pipeline =
        ModelFamilies.of(model)
            .load(
                model,
                target,
                List.of(ExecutionPlan.allResident(Long.MAX_VALUE)),
                ExecutionOptions.defaults(),
                modelOptions.ditStorage())) {
      SamplingDefaults defaults = pipeline.defaults();
      GenerationSpec spec =
          new GenerationSpec(
              prompt,
              seed,
              steps != null ? steps : defaults.steps(),
              size.width,
              size.height,
              guidance != null ? guidance : defaults.guidance(),
              model.name(),
              LoraOption.refs(loraOptions),
              negativePrompt,
              cfgTruncation);
      TraceRecorder trace = traceFile != null ? new TraceRecorder() : null;
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
      GeneratedImage image = pipeline.generate(spec, noise, progress, stack).image();
      writeAtomically(outPng, image.png());
      if (trace != null) {
        trace.write(Path.of(traceFile));
      }
      stdout.printf(
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

  private static float[] readNoise(Path file) {
    try (TensorStore s = TensorStore.open(file)) {
      var e = s.entry("pipe.noise");
      if (e.dtype() != DType.F32) {
        throw new SafetensorsException(
            file.toString(), "pipe.noise", "must be F32, is " + e.dtype());
      }
      FloatBuffer fb = s.bytes("pipe.noise").asFloatBuffer();
      float[] noise = new float[fb.remaining()];
      fb.get(noise);
      return noise;
    }
  }

  private static void writeAtomically(Path out, byte[] bytes) throws IOException {
    Path abs = out.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName().toString(), ".tmp");
    Files.write(tmp, bytes);
    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
