package dev.fleet.engine.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.nextdit.NewbieDirectory;
import dev.fleet.engine.nextdit.NewbieParity;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextModel;
import dev.fleet.engine.text.ClipTextOutput;
import dev.fleet.engine.text.T5Encoder;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.cli.HelpOption;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./fleet engine parity}: FLUX's components on given inputs, for comparison with the
 * reference implementations (tensor names as in {@code shared/fixtures/flux-tiny/README.md}).
 */
@Command(
    name = "./fleet engine parity",
    description =
        "Runs whichever of dit.in.*, vae.in.z, vae.in.image, t5.in.ids, clip.in.ids are present"
            + " and writes dit.out, vae.out.decoded, vae.out.latent_mean_scaled,"
            + " t5.out.last_hidden_state, clip.out.pooler_output, clip.out.last_hidden_state (F32)."
            + " On a NewBie-image model: dit.in.*, gemma.in.*, jina.in.* (newbie-tiny's names) to"
            + " dit.out, gemma.out.hidden_states_m2, jina.out.pooled, jina.out.last_hidden_state.")
final class ParityCommand implements EngineCommand {
  @Mixin HelpOption help = new HelpOption();

  @Option(
      names = "--inputs",
      paramLabel = "FILE",
      required = true,
      description = "the inputs (safetensors)")
  String inputFile;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      required = true,
      description = "where to write the outputs (safetensors)")
  String out;

  @Mixin ModelOptions modelOptions = new ModelOptions();

  @Mixin TargetOptions targetOptions = new TargetOptions();

  private final PrintStream stdout;

  ParityCommand(PrintStream stdout) {
    this.stdout = stdout;
  }

  @Override
  public int run() throws IOException {
    ModelLocation location = modelOptions.location();
    if (ModelFamilies.of(location) == ModelFamilies.NEWBIE) {
      return runNewbie(NewbieDirectory.resolve(location.root(), location.dit()));
    }
    ModelDirectory model = modelOptions.resolve();
    ComputeTarget target = targetOptions.target();
    Path outFile = Path.of(out);
    SafetensorsWriter writer = new SafetensorsWriter();
    List<String> written = new ArrayList<>();
    try (TensorStore inputs = TensorStore.open(Path.of(inputFile));
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
    stdout.println("{\"out\":\"" + outFile + "\",\"tensors\":" + toJson(written) + "}");
    return 0;
  }

  /**
   * A NewBie-image model's components on the newbie-tiny fixture's inputs ({@code dit.in.*}, {@code
   * gemma.in.*}, {@code jina.in.*}), writing {@code dit.out}, {@code gemma.out.hidden_states_m2},
   * {@code jina.out.pooled} and {@code jina.out.last_hidden_state}.
   */
  private int runNewbie(NewbieDirectory model) throws IOException {
    ComputeTarget target = targetOptions.target();
    Path outFile = Path.of(out);
    SafetensorsWriter writer = new SafetensorsWriter();
    List<String> written = new ArrayList<>();
    try (TensorStore inputs = TensorStore.open(Path.of(inputFile));
        NDManager manager = NDManager.newBaseManager(target.device())) {
      Weights in = new Weights(inputs, new ComputeTarget(target.device(), DataType.FLOAT32));
      NewbieParity.run(
          model, inputs, in, target, manager, (name, value) -> put(writer, written, name, value));
    }
    if (written.isEmpty()) {
      throw new UsageException(
          "parity: the inputs hold none of " + String.join(", ", NewbieParity.INPUTS));
    }
    writer.write(outFile);
    stdout.println("{\"out\":\"" + outFile + "\",\"tensors\":" + toJson(written) + "}");
    return 0;
  }

  private static void put(SafetensorsWriter w, List<String> written, String name, NDArray value) {
    NDArray f = value.toType(DataType.FLOAT32, false);
    w.addFloats(name, f.getShape().getShape(), f.toFloatArray());
    written.add(name);
  }

  private static String toJson(List<String> names) {
    return names.stream().map(n -> "\"" + n + "\"").collect(Collectors.joining(",", "[", "]"));
  }
}
