package dev.fleet.engine.lora;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.safetensors.SafetensorsFile;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.text.ClipTextModel;
import dev.fleet.engine.text.ClipTextOutput;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CLIP text-encoder LoRAs (kohya {@code lora_te1_}, diffusers/PEFT {@code text_encoder.}) on the
 * tiny model (CLIP 32 wide, MLP 64, 2 layers) against the same model with the update merged into
 * CLIP's weights in float32, computed here independently of the engine: CLIP's outputs and the
 * final latents within 1e-4 relative L2; with DiT keys in the same file against both merged;
 * strength 0 is exactly no LoRA; the prompt-embedding cache keeps LoRA and no-LoRA conditionings
 * apart.
 */
class ClipLoraTest {
  private static final double TOLERANCE = 1e-4;
  private static final int C = 32;
  private static final int MLP = 64;
  private static final int LAYERS = 2;
  private static final List<String> LINEARS =
      List.of(
          "self_attn.q_proj",
          "self_attn.k_proj",
          "self_attn.v_proj",
          "self_attn.out_proj",
          "mlp.fc1",
          "mlp.fc2");

  @TempDir Path tmp;

  /**
   * Writes random CLIP factors for every linear of both layers into {@code w} and returns the dense
   * float32 update of each weight (HF names within text_model, e.g. {@code
   * encoder.layers.0.mlp.fc1}).
   *
   * @param kohya kohya spelling with an alpha of 8 (scale 2) for rank 4; else PEFT without alpha
   */
  static Map<String, float[]> clipModules(
      SafetensorsWriter w, boolean kohya, long seed, float magnitude) {
    Random random = new Random(seed);
    Map<String, float[]> expected = new HashMap<>();
    int rank = 4;
    for (int layer = 0; layer < LAYERS; layer++) {
      for (String lin : LINEARS) {
        int in = lin.equals("mlp.fc2") ? MLP : C;
        int out = lin.equals("mlp.fc1") ? MLP : C;
        float[] down = new float[rank * in];
        float[] up = new float[out * rank];
        for (int i = 0; i < down.length; i++) {
          down[i] = (float) (random.nextGaussian() * magnitude);
        }
        for (int i = 0; i < up.length; i++) {
          up[i] = (float) (random.nextGaussian() * magnitude);
        }
        String hf = "encoder.layers." + layer + "." + lin;
        double scale;
        if (kohya) {
          String k = "lora_te1_text_model_" + hf.replace('.', '_');
          w.addFloats(k + ".lora_down.weight", new long[] {rank, in}, down);
          w.addFloats(k + ".lora_up.weight", new long[] {out, rank}, up);
          w.addFloats(k + ".alpha", new long[] {}, new float[] {8f});
          scale = 8.0 / rank;
        } else {
          String k = "text_encoder.text_model." + hf;
          w.addFloats(k + ".lora_A.weight", new long[] {rank, in}, down);
          w.addFloats(k + ".lora_B.weight", new long[] {out, rank}, up);
          scale = 1;
        }
        float[] d = new float[out * in];
        for (int o = 0; o < out; o++) {
          for (int i = 0; i < in; i++) {
            double v = 0;
            for (int r = 0; r < rank; r++) {
              v += (double) up[o * rank + r] * down[r * in + i];
            }
            d[o * in + i] = (float) (scale * v);
          }
        }
        expected.put(hf, d);
      }
    }
    return expected;
  }

  /**
   * A copy of the tiny model with {@code clipDeltas · clipStrength} merged into CLIP's weights and
   * {@code ditDeltas} into the DiT's (float32).
   */
  Path merged(String name, Map<String, float[]> clipDeltas, Map<String, float[]> ditDeltas)
      throws Exception {
    Path dir = tmp.resolve(name);
    Path te = Files.createDirectories(dir.resolve("text_encoder"));
    Files.copy(Fixtures.MODEL.resolve("text_encoder/config.json"), te.resolve("config.json"));
    SafetensorsWriter w = new SafetensorsWriter();
    try (SafetensorsFile base =
        SafetensorsFile.open(Fixtures.MODEL.resolve("text_encoder/model.safetensors"))) {
      for (String key : base.names()) {
        TensorEntry e = base.entry(key);
        float[] v = MergedModel.floats(base, e);
        String hf = key.startsWith("text_model.") ? key.substring(11) : key;
        float[] d =
            hf.endsWith(".weight") ? clipDeltas.get(hf.substring(0, hf.length() - 7)) : null;
        if (d != null) {
          assertEquals(v.length, d.length, key);
          for (int i = 0; i < v.length; i++) {
            v[i] += d[i];
          }
        }
        w.addFloats(key, e.shape(), v);
      }
    }
    w.write(te.resolve("model.safetensors"));
    return MergedModel.write(dir, "flux.safetensors", ditDeltas, false);
  }

  private static ClipTextOutput clip(
      ClipTextModel model, LoraStack stack, NDManager m, float[][] out) {
    NDArray ids = m.create(new long[] {0, 17, 45, 99, 123, 250, 31, 2}, new Shape(1, 8));
    ClipTextOutput o =
        model.forward(
            ids, DeviceAdapters.buildClip(stack, model.config(), DataType.FLOAT32, m).orNone());
    out[0] = o.lastHiddenState().toFloatArray();
    out[1] = o.pooledOutput().toFloatArray();
    return o;
  }

  private void checkClipAndLatents(String name, boolean kohya, double strength) throws Exception {
    SafetensorsWriter w = new SafetensorsWriter();
    Map<String, float[]> deltas = clipModules(w, kohya, kohya ? 11 : 12, 0.15f);
    Path file = tmp.resolve(name + ".safetensors");
    w.write(file);
    LoraAdapter adapter = LoraReader.read(file);
    assertEquals(kohya ? LoraFormat.KOHYA : LoraFormat.DIFFUSERS, adapter.format());
    assertEquals(LAYERS * LINEARS.size(), adapter.patches().size());
    assertTrue(adapter.patches().stream().allMatch(LoraPatch::isClip));
    LoraStack stack = LoraStack.of(new AppliedLora(adapter, strength));
    Path dir = merged(name + "-merged", LoraGenerationTest.scaled(deltas, strength), Map.of());

    float[][] none = new float[2][];
    float[][] lora = new float[2][];
    float[][] want = new float[2][];
    try (NDManager m = NDManager.newBaseManager();
        ClipTextModel base =
            ClipTextModel.load(Fixtures.MODEL.resolve("text_encoder"), ComputeTarget.cpu());
        ClipTextModel mergedClip =
            ClipTextModel.load(dir.resolve("text_encoder"), ComputeTarget.cpu())) {
      clip(base, LoraStack.NONE, m, none);
      clip(base, stack, m, lora);
      clip(mergedClip, LoraStack.NONE, m, want);
    }
    double hidden = relErr(want[0], lora[0]);
    double pooled = relErr(want[1], lora[1]);
    double effect = relErr(none[1], lora[1]);
    System.out.printf(
        "%-6s CLIP LoRA vs merged: hidden rel L2 %.2e, pooled %.2e; LoRA vs none %.2e%n",
        name, hidden, pooled, effect);
    assertTrue(hidden <= TOLERANCE, name + ": hidden rel L2 " + hidden);
    assertTrue(pooled <= TOLERANCE, name + ": pooled rel L2 " + pooled);
    assertTrue(effect > 100 * TOLERANCE, name + ": the LoRA changes little: " + effect);

    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] plain =
        LoraGenerationTest.latents(model, LoraGenerationTest.resident(), LoraStack.NONE);
    float[] withLora = LoraGenerationTest.latents(model, LoraGenerationTest.resident(), stack);
    float[] mergedLatents =
        LoraGenerationTest.latents(
            ModelDirectory.resolve(dir, null), LoraGenerationTest.resident(), LoraStack.NONE);
    double err = relErr(mergedLatents, withLora);
    double latentEffect = relErr(plain, withLora);
    System.out.printf(
        "%-6s latents LoRA vs merged CLIP: rel L2 %.2e; LoRA vs none %.2e%n",
        name, err, latentEffect);
    assertTrue(err <= TOLERANCE, name + ": latents rel L2 " + err);
    assertTrue(latentEffect > 10 * TOLERANCE, name + ": the LoRA changes little: " + latentEffect);
  }

  @Test
  void kohyaTe1EqualsMergedClip() throws Exception {
    checkClipAndLatents("kohya", true, 0.8);
  }

  @Test
  void peftTextEncoderEqualsMergedClip() throws Exception {
    checkClipAndLatents("peft", false, 1.2);
  }

  @Test
  void ditAndTe1InOneFileEqualBothMerged() throws Exception {
    LoraFiles dit = LoraFiles.kohya(21, 0.08f);
    SafetensorsWriter clipPart = new SafetensorsWriter();
    Map<String, float[]> clipDeltas = clipModules(clipPart, true, 22, 0.15f);
    Path clipFile = tmp.resolve("clip-part.safetensors");
    clipPart.write(clipFile);
    try (SafetensorsFile f = SafetensorsFile.open(clipFile)) {
      for (String key : f.names()) {
        dit.raw(key, f.entry(key).shape(), MergedModel.floats(f, f.entry(key)));
      }
    }
    LoraAdapter adapter = LoraReader.read(dit.write(tmp.resolve("both.safetensors")));
    double strength = 0.9;
    LoraStack stack = LoraStack.of(new AppliedLora(adapter, strength));
    Path dir =
        merged(
            "both-merged",
            LoraGenerationTest.scaled(clipDeltas, strength),
            LoraGenerationTest.scaled(dit.expected, strength));
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] withLora = LoraGenerationTest.latents(model, LoraGenerationTest.resident(), stack);
    float[] want =
        LoraGenerationTest.latents(
            ModelDirectory.resolve(dir, null), LoraGenerationTest.resident(), LoraStack.NONE);
    for (ExecutionPlanCase c : ExecutionPlanCase.values()) {
      float[] got = c == ExecutionPlanCase.RESIDENT ? withLora : latentsStreamed(model, stack);
      double err = relErr(want, got);
      System.out.printf("DiT + te1, plan %-9s: rel L2 vs both merged %.2e%n", c, err);
      assertTrue(err <= TOLERANCE, c + ": DiT + te1 rel L2 " + err);
    }
  }

  private enum ExecutionPlanCase {
    RESIDENT,
    STREAMED
  }

  private static float[] latentsStreamed(ModelDirectory model, LoraStack stack) {
    return LoraGenerationTest.latents(model, LoraGenerationTest.streamed(), stack);
  }

  @Test
  void strengthZeroIsExactlyNoLora() throws Exception {
    SafetensorsWriter w = new SafetensorsWriter();
    clipModules(w, true, 31, 0.15f);
    Path file = tmp.resolve("zero.safetensors");
    w.write(file);
    LoraAdapter adapter = LoraReader.read(file);
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] none = LoraGenerationTest.latents(model, LoraGenerationTest.resident(), LoraStack.NONE);
    LoraStack zero = LoraStack.of(new AppliedLora(adapter, 0));
    assertEquals("", zero.clipIdentity());
    // Exact on any CPU: strength 0 drops the adapter, so both runs take the same code path here.
    assertArrayEquals(none, LoraGenerationTest.latents(model, LoraGenerationTest.resident(), zero));
  }

  /** The last step's latents of one job on {@code p}. */
  private static float[] run(PlannedPipeline p, LoraStack loras) {
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
    GenerationSpec spec =
        new GenerationSpec(
            "a red fox sitting in the snow at dawn, highly detailed",
            1234,
            4,
            128,
            96,
            3.5,
            "tiny");
    p.generate(spec, null, l, loras);
    return seen.get("pipe.latents.step3");
  }

  @Test
  void theEmbeddingCacheIsNotSharedAcrossLoraAndNoLoraJobs() throws Exception {
    SafetensorsWriter w = new SafetensorsWriter();
    clipModules(w, false, 41, 0.15f);
    Path file = tmp.resolve("cached.safetensors");
    w.write(file);
    LoraAdapter adapter = LoraReader.read(file);
    LoraStack lora = LoraStack.of(new AppliedLora(adapter, 1.0));
    LoraStack weaker = LoraStack.of(new AppliedLora(adapter, 0.5));
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, "flux.safetensors");
    float[] freshLora = LoraGenerationTest.latents(model, LoraGenerationTest.resident(), lora);
    float[] freshNone =
        LoraGenerationTest.latents(model, LoraGenerationTest.resident(), LoraStack.NONE);
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model,
            ComputeTarget.cpu(),
            List.of(LoraGenerationTest.resident()),
            ExecutionOptions.defaults())) {
      float[] none1 = run(p, LoraStack.NONE);
      float[] lora1 = run(p, lora); // a cached no-LoRA conditioning must not serve it
      float[] none2 = run(p, LoraStack.NONE); // nor a cached LoRA one this
      float[] lora2 = run(p, lora);
      float[] weak = run(p, weaker);
      assertEquals(3, p.embeddingCache().misses(), "none, lora, weaker encode");
      assertEquals(2, p.embeddingCache().hits(), "none and lora are served again");
      assertEquals(3, p.embeddingCache().size());
      assertTrue(relErr(freshLora, lora1) <= 1e-6, "LoRA after no-LoRA");
      assertTrue(relErr(freshLora, lora2) <= 1e-6, "LoRA from the cache");
      assertTrue(relErr(freshNone, none1) <= 1e-6, "no LoRA");
      assertTrue(relErr(freshNone, none2) <= 1e-6, "no LoRA after LoRA");
      assertTrue(relErr(freshNone, lora1) > 10 * TOLERANCE, "the LoRA changes the job");
      assertTrue(relErr(freshLora, weak) > 10 * TOLERANCE, "the strength changes the job");
    }
  }

  @Test
  void t5KeysAreRefusedByName() {
    SafetensorsWriter w = new SafetensorsWriter();
    clipModules(w, true, 51, 0.1f);
    w.addFloats(
        "lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_down.weight",
        new long[] {2, 4},
        new float[8]);
    Path file = tmp.resolve("t5.safetensors");
    String m =
        assertThrows(
                UnsupportedLoraException.class,
                () -> {
                  w.write(file);
                  LoraReader.read(file);
                })
            .getMessage();
    assertTrue(m.contains("lora_te2_encoder_block_0_layer_0_SelfAttention_q"), m);
    assertTrue(m.contains("T5"), m);
  }

  @Test
  void aClipUpdateForAnotherModelIsRefused() throws Exception {
    SafetensorsWriter w = new SafetensorsWriter();
    w.addFloats(
        "lora_te1_text_model_encoder_layers_5_mlp_fc1.lora_down.weight",
        new long[] {2, 32},
        new float[64]);
    w.addFloats(
        "lora_te1_text_model_encoder_layers_5_mlp_fc1.lora_up.weight",
        new long[] {64, 2},
        new float[128]);
    Path file = tmp.resolve("deep.safetensors");
    w.write(file);
    LoraStack stack = LoraStack.of(new AppliedLora(LoraReader.read(file), 1));
    try (NDManager m = NDManager.newBaseManager();
        ClipTextModel base =
            ClipTextModel.load(Fixtures.MODEL.resolve("text_encoder"), ComputeTarget.cpu())) {
      String msg =
          assertThrows(
                  UnsupportedLoraException.class,
                  () -> DeviceAdapters.buildClip(stack, base.config(), DataType.FLOAT32, m))
              .getMessage();
      assertTrue(msg.contains("lora_te1_text_model_encoder_layers_5_mlp_fc1"), msg);
    }
  }
}
