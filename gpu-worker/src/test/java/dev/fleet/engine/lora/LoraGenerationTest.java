package dev.fleet.engine.lora;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.Residency;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA run of the tiny model against the same model with the LoRA's update merged into its
 * weights (in float32, computed by the test independently of the engine's reader): the latents
 * after the last step within 1e-4 relative L2, for each file layout, stacked, on the float8
 * checkpoint (against its exact dequantisation plus the update), for resident and streamed blocks.
 */
class LoraGenerationTest {
  private static final GenerationSpec SPEC =
      new GenerationSpec(
          "a red fox sitting in the snow at dawn, highly detailed", 1234, 4, 128, 96, 3.5, "tiny");
  private static final String LAST = "pipe.latents.step3";
  private static final double TOLERANCE = 1e-4;
  private static final long GIB = 1L << 30;

  @TempDir Path tmp;

  /** The latents of the last step. */
  static float[] latents(ModelDirectory model, ExecutionPlan plan, LoraStack loras) {
    Map<String, float[]> seen = new HashMap<>();
    GenerationListener l =
        new GenerationListener() {
          @Override
          public boolean wantsTensors() {
            return true;
          }

          @Override
          public void onTensor(String name, NDArray value) {
            seen.put(name, value.toType(DataType.FLOAT32, false).toFloatArray());
          }
        };
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model, ComputeTarget.cpu(), List.of(plan), ExecutionOptions.defaults())) {
      p.generate(SPEC, null, l, loras);
      assertEquals(0, p.liveJobArrays(), "arrays left after the job");
    }
    return seen.get(LAST);
  }

  static ExecutionPlan resident() {
    return ExecutionPlan.allResident(GIB);
  }

  static ExecutionPlan streamed() {
    return new ExecutionPlan("streamed", 1, 0, Residency.RESIDENT, Residency.RESIDENT, 0, 0, GIB);
  }

  static Map<String, float[]> scaled(Map<String, float[]> deltas, double strength) {
    Map<String, float[]> out = new HashMap<>();
    deltas.forEach(
        (k, v) -> {
          float[] s = new float[v.length];
          for (int i = 0; i < v.length; i++) {
            s[i] = (float) (v[i] * strength);
          }
          out.put(k, s);
        });
    return out;
  }

  static Map<String, float[]> sum(Map<String, float[]> a, Map<String, float[]> b) {
    Map<String, float[]> out = new HashMap<>(a);
    b.forEach(
        (k, v) ->
            out.merge(
                k,
                v,
                (x, y) -> {
                  float[] s = x.clone();
                  for (int i = 0; i < s.length; i++) {
                    s[i] += y[i];
                  }
                  return s;
                }));
    return out;
  }

  private void checkFormat(String name, LoraFiles files, LoraFormat format, double strength)
      throws Exception {
    Path file = files.write(tmp.resolve(name + ".safetensors"));
    LoraAdapter adapter = LoraReader.read(file);
    assertEquals(format, adapter.format());
    assertEquals(name, adapter.name());
    // The mapping itself: every layer's dense update as the test computed it.
    DitLinears linears;
    try (var store = ModelDirectory.resolve(Fixtures.MODEL, null).openTransformer()) {
      linears =
          DitLinears.of(
              dev.fleet.engine.flux.FluxParams.infer(
                  store, ModelDirectory.resolve(Fixtures.MODEL, null).transformerConfig()));
    }
    for (Map.Entry<String, float[]> e : files.expected.entrySet()) {
      int[] s = linears.shape(e.getKey());
      double err = relErr(e.getValue(), adapter.delta(e.getKey(), s[0], s[1], 1));
      assertTrue(err <= 1e-6, name + " " + e.getKey() + ": delta rel L2 " + err);
    }
    assertEquals(files.expected.keySet(), adapter.modules(), name + ": adapted layers");

    ModelDirectory base = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] plain = latents(base, resident(), LoraStack.NONE);
    float[] withLora = latents(base, resident(), LoraStack.of(new AppliedLora(adapter, strength)));
    Path dir =
        MergedModel.write(
            tmp.resolve(name + "-merged"),
            "flux.safetensors",
            scaled(files.expected, strength),
            false);
    float[] merged = latents(ModelDirectory.resolve(dir, null), resident(), LoraStack.NONE);
    double err = relErr(merged, withLora);
    double effect = relErr(plain, withLora);
    System.out.printf(
        "%-9s LoRA vs merged fp32: rel L2 %.2e; LoRA vs none %.2e%n", name, err, effect);
    assertTrue(err <= TOLERANCE, name + ": LoRA vs merged rel L2 " + err);
    assertTrue(effect > 100 * TOLERANCE, name + ": the LoRA changes little: " + effect);
  }

  @Test
  void kohyaEqualsMergedWeights() throws Exception {
    checkFormat("kohya", LoraFiles.kohya(1, 0.08f), LoraFormat.KOHYA, 0.8);
  }

  @Test
  void diffusersEqualsMergedWeights() throws Exception {
    checkFormat("diffusers", LoraFiles.diffusers(2, 0.08f), LoraFormat.DIFFUSERS, 1.0);
  }

  @Test
  void xlabsEqualsMergedWeights() throws Exception {
    checkFormat("xlabs", LoraFiles.xlabs(3, 0.1f), LoraFormat.XLABS, 1.3);
  }

  @Test
  void bflNativeEqualsMergedWeights() throws Exception {
    checkFormat("native", LoraFiles.bfl(4, 0.08f), LoraFormat.NATIVE, -0.6);
  }

  @Test
  void stackedLorasAddUpOnStreamedBlocks() throws Exception {
    LoraFiles a = LoraFiles.kohya(5, 0.08f);
    LoraFiles b = LoraFiles.diffusers(6, 0.08f);
    LoraAdapter la = LoraReader.read(a.write(tmp.resolve("a.safetensors")));
    LoraAdapter lb = LoraReader.read(b.write(tmp.resolve("b.safetensors")));
    LoraStack stack = LoraStack.of(new AppliedLora(la, 0.7), new AppliedLora(lb, -0.5));
    Path dir =
        MergedModel.write(
            tmp.resolve("stacked"),
            "flux.safetensors",
            sum(scaled(a.expected, 0.7), scaled(b.expected, -0.5)),
            false);
    float[] merged = latents(ModelDirectory.resolve(dir, null), resident(), LoraStack.NONE);
    ModelDirectory base = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    for (ExecutionPlan plan : List.of(resident(), streamed())) {
      double err = relErr(merged, latents(base, plan, stack));
      System.out.printf("stacked, plan %-13s: rel L2 %.2e%n", plan.name(), err);
      assertTrue(err <= TOLERANCE, plan.name() + ": stacked rel L2 " + err);
    }
  }

  @Test
  void onFloat8TheUpdateIsAppliedInComputePrecision() throws Exception {
    LoraFiles files = LoraFiles.kohya(7, 0.05f);
    LoraAdapter adapter = LoraReader.read(files.write(tmp.resolve("fp8.safetensors")));
    LoraStack stack = LoraStack.of(new AppliedLora(adapter, 1.0));
    String fp8 = "flux-fp8-e4m3fn.safetensors";
    Path exact = MergedModel.write(tmp.resolve("exact"), fp8, files.expected, false);
    Path intoFp8 = MergedModel.write(tmp.resolve("into-fp8"), fp8, files.expected, true);
    float[] reference = latents(ModelDirectory.resolve(exact, null), resident(), LoraStack.NONE);
    float[] mergedIntoFp8 =
        latents(ModelDirectory.resolve(intoFp8, null), resident(), LoraStack.NONE);
    ModelDirectory base = ModelDirectory.resolve(Fixtures.MODEL, fp8);
    float[] none = latents(base, resident(), LoraStack.NONE);
    for (ExecutionPlan plan : List.of(resident(), streamed())) {
      float[] lora = latents(base, plan, stack);
      double err = relErr(reference, lora);
      double fp8Err = relErr(reference, mergedIntoFp8);
      System.out.printf(
          "fp8 base, plan %-13s: LoRA vs dequantised + delta %.2e; merged into fp8 %.2e;"
              + " LoRA vs none %.2e%n",
          plan.name(), err, fp8Err, relErr(none, lora));
      assertTrue(err <= TOLERANCE, plan.name() + ": fp8 LoRA rel L2 " + err);
      assertTrue(fp8Err > 10 * TOLERANCE, "merging into fp8 should lose the delta: " + fp8Err);
    }
  }

  @Test
  void strengthZeroIsExactlyNoLora() throws Exception {
    LoraAdapter adapter =
        LoraReader.read(LoraFiles.kohya(8, 0.08f).write(tmp.resolve("zero.safetensors")));
    ModelDirectory base = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] none = latents(base, resident(), LoraStack.NONE);
    float[] zero = latents(base, resident(), LoraStack.of(new AppliedLora(adapter, 0)));
    assertArrayEquals(none, zero);
    assertTrue(LoraStack.of(new AppliedLora(adapter, 0.0)).isEmpty());
  }
}
