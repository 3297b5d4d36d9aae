package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.TensorAsserts;
import dev.fleet.engine.lora.AppliedLora;
import dev.fleet.engine.lora.DeviceAdapters;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraAdapter;
import dev.fleet.engine.lora.LoraFiles;
import dev.fleet.engine.lora.LoraFormat;
import dev.fleet.engine.lora.LoraReader;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.lora.UnsupportedLoraException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA adapters on the Next-DiT of the newbie-tiny fixture: files in each layout NewBie users have
 * ({@link NewbieLoraFiles}) applied as side paths give the output of the unmodified DiT loaded from
 * a checkpoint with {@code W + strength · scale · B · A} merged into its float32 weights (computed
 * by the test, not the engine), for resident, streamed and float8 blocks.
 */
class NextDitLoraTest {
  private static TensorStore expected;
  private static NextDitParams params;

  @TempDir Path tmp;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(NewbieFixture.EXPECTED);
    params = NextDitParams.read(NewbieFixture.TRANSFORMER);
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void comfyNativeLoraMatchesTheMergedWeights() {
    checkFormat("comfy", NewbieLoraFiles.comfy(11, 0.1f), LoraFormat.NATIVE, 0.8);
  }

  @Test
  void newbieLoraTrainersPeftLoraMatchesTheMergedWeights() {
    checkFormat("peft", NewbieLoraFiles.peft(12, 0.1f), LoraFormat.NATIVE, 1.0);
  }

  @Test
  void kohyaLoraMatchesTheMergedWeights() {
    checkFormat("kohya", NewbieLoraFiles.kohya(13, 0.1f), LoraFormat.KOHYA, -0.6);
  }

  @Test
  void diffusersLoraWithSplitQkvMatchesTheMergedWeights() {
    checkFormat("diffusers", NewbieLoraFiles.diffusers(14, 0.1f), LoraFormat.DIFFUSERS, 1.2);
  }

  /** Two LoRAs at once add up, as their two merges do. */
  @Test
  void stackedLorasAddUp() throws Exception {
    LoraFiles a = NewbieLoraFiles.comfy(21, 0.1f);
    LoraFiles b = NewbieLoraFiles.diffusers(22, 0.1f);
    LoraStack stack =
        LoraStack.of(
            new AppliedLora(LoraReader.read(a.write(tmp.resolve("a.safetensors"))), 0.7),
            new AppliedLora(LoraReader.read(b.write(tmp.resolve("b.safetensors"))), -0.5));
    Path merged =
        NewbieLoraFiles.mergedModel(
            tmp.resolve("merged"), List.of(a.expected(), b.expected()), new double[] {0.7, -0.5});
    float[] want = mergedOutput(merged);
    float[] got = withAdapters(stack, 0, BlockStore.Float8.AS_STORED);
    double err = TensorAssert.relErr(want, got);
    System.out.printf("next-dit lora, two stacked vs both merged: rel L2 %.3e%n", err);
    assertTrue(err <= 1e-5, "rel L2 " + err);
  }

  /** Strength 0 applies nothing: the base model's output exactly. */
  @Test
  void strengthZeroIsTheBaseModel() {
    LoraAdapter a =
        LoraReader.read(NewbieLoraFiles.comfy(31, 0.1f).write(tmp.resolve("z.safetensors")));
    LoraStack stack = LoraStack.of(new AppliedLora(a, 0));
    assertTrue(stack.isEmpty());
    float[] base = withAdapters(LoraStack.NONE, -1, BlockStore.Float8.AS_STORED);
    float[] zero = withAdapters(stack, -1, BlockStore.Float8.AS_STORED);
    double err = TensorAssert.relErr(base, zero);
    assertTrue(err <= 1e-7, "strength 0 vs base: rel L2 " + err);
    double ref = TensorAssert.relErr(TensorAsserts.floats(expected, "dit.out"), base);
    assertTrue(ref <= 1e-4, "the base model vs dit.out: rel L2 " + ref);
  }

  /**
   * Streamed blocks take their side paths when leased: 0 or 2 of the 4 refiner and joint blocks
   * resident give the all-resident model's output.
   */
  @Test
  void streamedBlocksTakeTheSamePaths() {
    LoraAdapter a =
        LoraReader.read(NewbieLoraFiles.kohya(41, 0.1f).write(tmp.resolve("s.safetensors")));
    LoraStack stack = LoraStack.of(new AppliedLora(a, 1.0));
    float[] resident = withAdapters(stack, -1, BlockStore.Float8.AS_STORED);
    for (int k : new int[] {0, 2}) {
      float[] streamed = withAdapters(stack, k, BlockStore.Float8.AS_STORED);
      double err = TensorAssert.relErr(resident, streamed);
      System.out.printf("next-dit lora, %d of 4 blocks resident vs all: rel L2 %.3e%n", k, err);
      assertTrue(err <= 1e-5, k + " resident: rel L2 " + err);
    }
  }

  /**
   * Float8 blocks (narrowed to e4m3fn when loaded) are widened per block and the side path, in the
   * compute dtype, added to the widened layer's output: the adapter is never narrowed. Against the
   * float32 merged model the output errs by what the fp8 base weights cost (the project's bound for
   * NewBie's fp8 DiT, 0.10, see NextDitTransformerTest), and the LoRA's effect survives: fp8 with
   * the LoRA is nearer the merged model than fp8 without it is.
   */
  @Test
  void float8BlocksKeepTheAdapterInTheComputeDtype() throws Exception {
    LoraFiles files = NewbieLoraFiles.comfy(51, 0.2f);
    LoraStack stack =
        LoraStack.of(
            new AppliedLora(LoraReader.read(files.write(tmp.resolve("f.safetensors"))), 1.0));
    float[] merged =
        mergedOutput(
            NewbieLoraFiles.mergedModel(
                tmp.resolve("merged"), List.of(files.expected()), new double[] {1.0}));
    for (int k : new int[] {4, 1}) {
      float[] fp8Lora = withAdapters(stack, k, BlockStore.Float8.NARROW);
      float[] fp8Base = withAdapters(LoraStack.NONE, k, BlockStore.Float8.NARROW);
      double err = TensorAssert.relErr(merged, fp8Lora);
      double without = TensorAssert.relErr(merged, fp8Base);
      System.out.printf(
          "next-dit lora, fp8 blocks (%d resident) + lora vs merged fp32: rel L2 %.3e"
              + " (fp8 without the lora: %.3e)%n",
          k, err, without);
      assertTrue(err <= 0.10, "fp8 + lora rel L2 " + err);
      assertTrue(err < without / 2, "fp8 + lora " + err + " vs fp8 alone " + without);
    }
  }

  @Test
  void unknownKeysAreRefusedNamingTheFileAndKeys() {
    Path file =
        new LoraFiles(61, 0.1f, NewbieLoraFiles.shapes())
            .raw(
                "diffusion_model.layers.0.attention.qkv.lora_A.weight",
                new long[] {2, 32},
                new float[64])
            .raw(
                "diffusion_model.layers.0.attention.qkv.lora_B.weight",
                new long[] {64, 2},
                new float[128])
            .raw(
                "diffusion_model.layers.0.attention.gate.lora_A.weight",
                new long[] {2, 32},
                new float[64])
            .raw(
                "diffusion_model.layers.0.attention.gate.lora_B.weight",
                new long[] {32, 2},
                new float[64])
            .write(tmp.resolve("odd.safetensors"));
    UnsupportedLoraException e =
        assertThrows(UnsupportedLoraException.class, () -> LoraReader.read(file));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(
        e.getMessage().contains("diffusion_model.layers.0.attention.gate.lora_A.weight"),
        e.getMessage());
  }

  /** A layer past the model's depth is refused naming it and the model. */
  @Test
  void aLoraForADeeperModelIsRefusedNamingTheLayer() {
    Path file =
        new LoraFiles(62, 0.1f, Map.of("layers.7.attention.out", new int[] {32, 32}))
            .module(
                "diffusion_model.layers.7.attention.out.lora_A.weight",
                "diffusion_model.layers.7.attention.out.lora_B.weight",
                null,
                Float.NaN,
                2,
                32,
                32,
                "layers.7.attention.out",
                0,
                false,
                Double.NaN)
            .write(tmp.resolve("deep.safetensors"));
    LoraAdapter a = LoraReader.read(file);
    UnsupportedLoraException e =
        assertThrows(
            UnsupportedLoraException.class, () -> NextDitTransformer.loraLayers(params).check(a));
    assertTrue(e.getMessage().contains("layers.7.attention.out"), e.getMessage());
    assertTrue(e.getMessage().contains("NewBie-image (Next-DiT: 2 joint layers"), e.getMessage());
  }

  /** A FLUX LoRA given to NewBie is refused saying it is one. */
  @Test
  void aFluxLoraIsRefusedSayingSo() {
    LoraAdapter flux =
        LoraReader.read(LoraFiles.kohya(71, 0.1f).write(tmp.resolve("flux.safetensors")));
    DitLinears newbie = NextDitTransformer.loraLayers(params);
    UnsupportedLoraException e =
        assertThrows(UnsupportedLoraException.class, () -> newbie.check(flux));
    assertTrue(e.getMessage().contains("a FLUX LoRA?"), e.getMessage());
    assertTrue(e.getMessage().contains("this model is NewBie-image"), e.getMessage());
  }

  /**
   * CLIP-L text-encoder keys (kohya's lora_te1_) beside NewBie's layers: NewBie's text encoders
   * (Gemma 3, Jina CLIP) take no LoRA, so the file is refused naming the module, not half applied.
   */
  @Test
  void textEncoderKeysAreRefusedForNewbie() {
    Map<String, int[]> shapes = new java.util.LinkedHashMap<>(NewbieLoraFiles.shapes());
    LoraFiles f = new LoraFiles(63, 0.1f, shapes);
    f.module(
        "lora_unet_layers_0_attention_out.lora_down.weight",
        "lora_unet_layers_0_attention_out.lora_up.weight",
        null,
        Float.NaN,
        2,
        32,
        32,
        "layers.0.attention.out",
        0,
        false,
        Double.NaN);
    f.raw(
        "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
        new long[] {2, 768},
        new float[2 * 768]);
    f.raw(
        "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight",
        new long[] {3072, 2},
        new float[3072 * 2]);
    LoraAdapter a = LoraReader.read(f.write(tmp.resolve("with-te.safetensors")));
    UnsupportedLoraException e =
        assertThrows(
            UnsupportedLoraException.class, () -> NextDitTransformer.loraLayers(params).check(a));
    assertTrue(
        e.getMessage().contains("lora_te1_text_model_encoder_layers_0_mlp_fc1"), e.getMessage());
    assertTrue(e.getMessage().contains("CLIP text encoder"), e.getMessage());
  }

  private void checkFormat(String label, LoraFiles files, LoraFormat format, double strength) {
    try {
      LoraAdapter a = LoraReader.read(files.write(tmp.resolve(label + ".safetensors")));
      assertEquals(format, a.format());
      LoraStack stack = LoraStack.of(new AppliedLora(a, strength));
      float[] got = withAdapters(stack, -1, BlockStore.Float8.AS_STORED);
      float[] want =
          mergedOutput(
              NewbieLoraFiles.mergedModel(
                  tmp.resolve("merged-" + label),
                  List.of(files.expected()),
                  new double[] {strength}));
      float[] base = withAdapters(LoraStack.NONE, -1, BlockStore.Float8.AS_STORED);
      double err = TensorAssert.relErr(want, got);
      double change = TensorAssert.relErr(base, got);
      System.out.printf(
          "next-dit lora %s (%d layers) at %.1f vs merged weights: rel L2 %.3e; vs no lora %.3e%n",
          label, a.modules().size(), strength, err, change);
      assertTrue(err <= 1e-5, label + ": rel L2 " + err);
      assertTrue(change > 1e-3, label + ": the LoRA changed nothing (" + change + ")");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The unmodified DiT loaded from the merged model's checkpoint, on the fixture's inputs. */
  private static float[] mergedOutput(Path model) {
    try (TensorStore store = TensorStore.open(model.resolve("transformer/newbie.safetensors"));
        NextDitTransformer dit =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      return TensorAsserts.floats(forward(dit, m, Adapters.NONE));
    }
  }

  /**
   * The fixture's DiT with {@code stack}'s side paths: all parameters resident when {@code
   * resident} is negative, else the refiner and joint blocks in a block store with that many
   * resident.
   */
  private static float[] withAdapters(LoraStack stack, int resident, BlockStore.Float8 float8) {
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer dit =
            resident < 0
                ? NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params)
                : NextDitTransformer.load(
                    new Weights(store, ComputeTarget.cpu()),
                    params,
                    resident,
                    new DeviceLedger(Long.MAX_VALUE),
                    HostToDevice.synchronous(),
                    Widener.lookupTable(),
                    float8,
                    0);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Adapters adapters =
          DeviceAdapters.build(stack, NextDitTransformer.loraLayers(params), DataType.FLOAT32, m)
              .orNone();
      return TensorAsserts.floats(forward(dit, m, adapters));
    }
  }

  private static NDArray forward(NextDitTransformer dit, NDManager m, Adapters adapters) {
    return dit.forward(
        NewbieFixture.load(expected, "dit.in.x", m),
        NewbieFixture.load(expected, "dit.in.t", m),
        NewbieFixture.load(expected, "dit.in.cap_feats", m),
        NewbieFixture.load(expected, "dit.in.cap_mask", m),
        NewbieFixture.load(expected, "dit.in.clip_text_pooled", m),
        adapters);
  }
}
