package dev.fleet.engine.checkpoint;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.TensorAsserts;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.gguf.GgufWriter;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.synthetic.AllInOneWriter;
import dev.fleet.engine.synthetic.DitVariant;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.synthetic.SyntheticModelWriter;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.DitDims;
import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;
import dev.fleet.testing.ImageAssert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every checkpoint spelling the engine reads ({@link DitVariant}: ComfyUI prefixes, plain and
 * scaled float8 in both of ComfyUI's spellings, float8 biases) and ComfyUI all-in-one files give
 * the latents and image of their plain float32 equivalent. The model has FLUX.1's head dimension
 * and no transformer config, as downloaded files have none; the files sit outside the model
 * directory and are given as {@code --dit /absolute/path}, as majicflus is run beside FLUX.1-dev.
 */
class CheckpointSpellingsTest {
  static final ModelShape SHAPE =
      new ModelShape(
          "spellings",
          new FluxParams(
              new DitDims(64, 64, 32, 64, 256, 4.0, 2, 2, 2, true, true),
              List.of(16, 56, 56),
              10_000),
          ModelShape.TINY.vae(),
          ModelShape.TINY.clip(),
          ModelShape.TINY.t5());

  static final GenerationSpec SPEC = new GenerationSpec("a red fox", 7, 3, 64, 48, 3.5, "spell");
  static final String LAST_LATENTS = "pipe.latents.step" + (SPEC.steps() - 1);

  @TempDir static Path tmp;
  static ModelDirectory model;
  static Path downloads;

  @BeforeAll
  static void writeModel() throws Exception {
    model =
        SyntheticModelWriter.of(SHAPE, Fixtures.MODEL)
            .withSeed(3)
            .withDitConfig(false)
            .write(tmp.resolve("model"));
    downloads = Files.createDirectories(tmp.resolve("downloads"));
  }

  /** The latents after the last step and the image's pixels of one run. */
  record Run(float[] latents, byte[] rgb) {}

  static Run run(ModelDirectory m, List<ExecutionPlan> plans) {
    return run(m, plans, ComputeTarget.cpu());
  }

  static Run run(ModelDirectory m, List<ExecutionPlan> plans, ComputeTarget target) {
    Map<String, float[]> traced = new HashMap<>();
    try (PlannedPipeline p = PlannedPipeline.load(m, target, plans, ExecutionOptions.defaults())) {
      byte[] rgb =
          p.generate(
                  SPEC,
                  new GenerationListener() {
                    @Override
                    public boolean wantsTensors() {
                      return true;
                    }

                    @Override
                    public void onTensor(String name, NDArray value) {
                      traced.put(name, value.toType(DataType.FLOAT32, false).toFloatArray());
                    }
                  })
              .image()
              .rgb();
      return new Run(traced.get(LAST_LATENTS), rgb);
    }
  }

  static Run run(ModelDirectory m) {
    return run(m, List.of(ExecutionPlan.allResident(Long.MAX_VALUE)));
  }

  /**
   * Relative L2 of the latents within 1e-4; the images the same in {@link ImageAssert}'s sense
   * (every channel within ±1, 99 % of the pixels identical).
   */
  static double assertSameResult(Run expected, Run actual, String what) {
    double err = relErr(expected.latents(), actual.latents());
    ImageAssert.Difference d = ImageAssert.compare(expected.rgb(), actual.rgb(), SPEC.width());
    System.out.printf(Locale.ROOT, "%s: latents rel err %.3e, image %s%n", what, err, d);
    assertTrue(err <= 1e-4, what + ": latents rel err " + err);
    assertTrue(d.closeEnough(), what + ": " + d);
    return err;
  }

  private static Path[] write(DitVariant v) throws Exception {
    String base = v.name().toLowerCase(Locale.ROOT);
    Path file = downloads.resolve(base + ".safetensors");
    Path plain = downloads.resolve(base + "-plain-f32.safetensors");
    if (!Files.exists(file)) {
      try (TensorStore source = model.openTransformer()) {
        v.write(source, file, plain);
      }
    }
    return new Path[] {file, plain};
  }

  @ParameterizedTest
  @EnumSource(DitVariant.class)
  void eachSpellingGivesWhatItsPlainFloat32EquivalentGives(DitVariant v) throws Exception {
    Path[] files = write(v);
    ModelDirectory spelled = ModelDirectory.resolve(model.root(), files[0].toString());
    ModelDirectory plain = ModelDirectory.resolve(model.root(), files[1].toString());
    assertEquals(files[0], spelled.transformer());
    try (TensorStore dit = spelled.openTransformer()) {
      assertEquals(SHAPE.dit(), FluxParams.infer(dit, spelled.transformerConfig()));
    }
    Run result = run(spelled);
    assertSameResult(run(plain), result, v.toString());
    if (v.name().contains("FP8")) {
      // The float8 values were really used: not the float32 weights they were made from.
      assertTrue(relErr(source().latents(), result.latents()) > 1e-4, v + " is lossy");
    }
  }

  private static Run source;

  private static synchronized Run source() {
    if (source == null) {
      source = run(model);
    }
    return source;
  }

  /**
   * Streamed blocks keep float8 as bytes plus one scale per matrix and widen and scale them on the
   * device per lease: the same result as every block resident, and as the plain equivalent.
   */
  @Test
  void streamedScaledFloat8BlocksAreScaledOnTheDevice() throws Exception {
    Path[] files = write(DitVariant.SCALED_FP8_COMFY_QUANT);
    ModelDirectory spelled = ModelDirectory.resolve(model.root(), files[0].toString());
    ExecutionPlan streamed =
        new ExecutionPlan("streamed", 0, 1, Residency.STAGED, Residency.STAGED, 0, 0, 1L << 40);
    Run plain = run(ModelDirectory.resolve(model.root(), files[1].toString()));
    assertSameResult(plain, run(spelled, List.of(streamed)), "scaled fp8, blocks streamed");
    assertEquals(StorageType.FP8, ModelDimsReader.ditStorage(spelled));
    assertEquals(StorageType.FP16, ModelDimsReader.ditStorage(plain(files)));
  }

  /**
   * In float16 (the GPU's compute dtype) the scale is applied to the widened float16 weights: the
   * result is the plain checkpoint's in float16, within float16's rounding.
   */
  @Test
  void scaledFloat8InFloat16AgreesWithThePlainCheckpointInFloat16() throws Exception {
    ComputeTarget half = new ComputeTarget(ai.djl.Device.cpu(), DataType.FLOAT16);
    List<ExecutionPlan> plans = List.of(ExecutionPlan.allResident(Long.MAX_VALUE));
    for (DitVariant v : List.of(DitVariant.SCALED_FP8, DitVariant.FP8_E5M2)) {
      Path[] files = write(v);
      Run plain = run(ModelDirectory.resolve(model.root(), files[1].toString()), plans, half);
      Run spelled = run(ModelDirectory.resolve(model.root(), files[0].toString()), plans, half);
      double err = relErr(plain.latents(), spelled.latents());
      System.out.printf(Locale.ROOT, "%s in float16: latents rel err %.3e%n", v, err);
      assertTrue(err <= 1e-3, v + " in float16: latents rel err " + err);
    }
  }

  /**
   * city96-style GGUF: BFL names, matrices in Q8_0, norm scales in F16, the rest F32. Dequantized
   * exactly to float32 on reading, it gives what its plain float32 equivalent gives.
   */
  @Test
  void aQ8GgufTransformerGivesItsDequantizedEquivalent() throws Exception {
    GgufWriter gguf = new GgufWriter().metadata("general.architecture", "flux");
    SafetensorsWriter plain = new SafetensorsWriter();
    try (TensorStore source = model.openTransformer()) {
      for (String name : source.names()) {
        long[] shape = source.entry(name).shape();
        float[] v = TensorAsserts.floats(source, name);
        if (name.endsWith(".weight") && shape.length == 2 && shape[1] % 32 == 0) {
          gguf.q8(name, shape, v);
          plain.addFloats(name, shape, GgufWriter.q8Values(v));
        } else if (name.endsWith(".scale")) {
          gguf.f16(name, shape, v);
          float[] rounded = new float[v.length];
          for (int i = 0; i < v.length; i++) {
            rounded[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
          }
          plain.addFloats(name, shape, rounded);
        } else {
          gguf.f32(name, shape, v);
          plain.addFloats(name, shape, v);
        }
      }
    }
    Path file = downloads.resolve("flux-Q8_0.gguf");
    Path equivalent = downloads.resolve("flux-Q8_0-plain-f32.safetensors");
    gguf.write(file);
    plain.write(equivalent);
    ModelDirectory q8 = ModelDirectory.resolve(model.root(), file.toString());
    assertEquals(StorageType.FP16, ModelDimsReader.ditStorage(q8));
    Run result = run(q8);
    assertSameResult(
        run(ModelDirectory.resolve(model.root(), equivalent.toString())), result, "GGUF Q8_0");
    assertTrue(relErr(source().latents(), result.latents()) > 1e-6, "Q8_0 is lossy");
  }

  /**
   * A scaled fp8 T5 (as ComfyUI's {@code t5xxl_fp8_e4m3fn_scaled}: marker and {@code
   * scale_weight}s) in the model's {@code text_encoder_2/}: its scales are applied, giving what its
   * plain float32 equivalent gives.
   */
  @Test
  void aScaledFloat8TextEncoderInTheDirectoryHasItsScalesApplied() throws Exception {
    ModelDirectory scaled = copyWithT5(tmp.resolve("scaled-t5"), "scaled");
    ModelDirectory plain = copyWithT5(tmp.resolve("plain-t5"), "plain");
    assertSameResult(run(plain), run(scaled), "scaled fp8 T5 in text_encoder_2/");
    assertTrue(relErr(source().latents(), run(scaled).latents()) > 1e-6, "fp8 T5 is lossy");
  }

  /** The model with its T5 replaced by the scaled fp8 spelling ("scaled") or its equivalent. */
  private static ModelDirectory copyWithT5(Path root, String which) throws Exception {
    Path src = model.root();
    try (Stream<Path> files = Files.walk(src)) {
      for (Path f : files.toList()) {
        Path to = root.resolve(src.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(to);
        } else if (!f.getParent().getFileName().toString().equals("text_encoder_2")
            || f.getFileName().toString().equals("config.json")) {
          Files.copy(f, to);
        }
      }
    }
    Path scaledFile = downloads.resolve("t5-scaled.safetensors");
    Path plainFile = downloads.resolve("t5-plain.safetensors");
    if (!Files.exists(scaledFile)) {
      try (TensorStore t5 = TensorStore.open(src.resolve("text_encoder_2"))) {
        DitVariant.SCALED_FP8.write(t5, "", scaledFile, plainFile);
      }
    }
    Files.copy(
        which.equals("scaled") ? scaledFile : plainFile,
        root.resolve("text_encoder_2/model.safetensors"));
    return ModelDirectory.resolve(root, null);
  }

  private static ModelDirectory plain(Path[] files) {
    return ModelDirectory.resolve(model.root(), files[1].toString());
  }

  /**
   * An all-in-one file made of another model's components (same shape, another seed): run beside
   * this model's directory, the file's transformer, autoencoder, CLIP and T5 are the ones used, so
   * the image is the other model's.
   */
  @Test
  void allInOneComponentsComeFromTheFile() throws Exception {
    ModelDirectory other =
        SyntheticModelWriter.of(SHAPE, Fixtures.MODEL)
            .withSeed(4)
            .withDitConfig(false)
            .write(tmp.resolve("other"));
    Path aio = downloads.resolve("all-in-one.safetensors");
    AllInOneWriter.write(
        other, DitVariant.COMFYUI_PREFIX, EnumSet.allOf(EmbeddedComponent.class), aio);
    ModelDirectory resolved = ModelDirectory.resolve(model.root(), aio.toString());
    assertTrue(resolved.vaeWeights().embedded());
    assertTrue(resolved.clipWeights().embedded());
    assertTrue(resolved.t5Weights().embedded());
    assertEquals(ModelDimsReader.read(other).dit(), ModelDimsReader.read(resolved).dit());
    assertSameResult(run(other), run(resolved), "all-in-one (every component)");

    // Only the transformer and T5 in the file: the autoencoder and CLIP come from the directory.
    Path partial = downloads.resolve("dit-and-t5.safetensors");
    AllInOneWriter.write(model, DitVariant.SCALED_FP8, Set.of(EmbeddedComponent.T5), partial);
    ModelDirectory withT5 = ModelDirectory.resolve(model.root(), partial.toString());
    assertTrue(withT5.t5Weights().embedded());
    assertTrue(!withT5.vaeWeights().embedded() && !withT5.clipWeights().embedded());
    assertSameResult(
        run(ModelDirectory.resolve(model.root(), write(DitVariant.SCALED_FP8)[1].toString())),
        run(withT5),
        "all-in-one (scaled fp8 transformer and T5)");
  }
}
