package dev.fleet.engine.gpu;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.BlockKernel;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.LowRank;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole-block TorchScript modules (scripted on the GPU machine, loaded here on the CPU in
 * float32) against the engine's own DJL blocks and the fixture's reference output: the same DiT
 * forward within rounding, LoRA side paths included, with the blocks partly streamed.
 */
class ScriptedBlocksTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");
  private static final String[] INPUTS = {
    "img", "img_ids", "txt", "txt_ids", "y", "timesteps", "guidance"
  };

  private static TensorStore expected;
  private static TensorStore store;
  private static FluxParams params;
  private static TorchScriptHelpers helpers;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(Fixtures.EXPECTED);
    store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
    params = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
    helpers = TorchScriptHelpers.load(Device.cpu());
  }

  @AfterAll
  static void close() {
    helpers.close();
    store.close();
    expected.close();
  }

  @Test
  void blockModulesAgreeWithTheEngineAndTheReference() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      float[] djl = forward(BlockKernel.DJL, Adapters.NONE, m);
      float[] scripted = forward(new ScriptedBlocks(helpers, false), Adapters.NONE, m);
      float[] reference = input(m, "dit.out").toFloatArray();
      double vsEngine = relErr(djl, scripted);
      double vsReference = relErr(reference, scripted);
      System.out.printf(
          "scripted blocks: rel L2 %.2e vs DJL blocks, %.2e vs reference%n", vsEngine, vsReference);
      assertTrue(vsEngine <= 1e-5, "scripted vs DJL blocks: " + vsEngine);
      assertTrue(vsReference <= 1e-4, "scripted vs reference: " + vsReference);
    }
  }

  @Test
  void loraSidePathsGoThroughTheModules() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      int hidden = params.dims().hiddenSize();
      int mlp = params.dims().mlpHiddenDim();
      LowRank qkv = lowRank(m, 3L * hidden, hidden, 1);
      LowRank linear2 = lowRank(m, hidden, (long) hidden + mlp, 2);
      Map<String, LowRank> sides =
          Map.of("double_blocks.0.img_attn.qkv", qkv, "single_blocks.1.linear2", linear2);
      Adapters adapters = sides::get;
      float[] plain = forward(new ScriptedBlocks(helpers, false), Adapters.NONE, m);
      float[] djl = forward(BlockKernel.DJL, adapters, m);
      float[] scripted = forward(new ScriptedBlocks(helpers, false), adapters, m);
      double err = relErr(djl, scripted);
      System.out.printf(
          "with LoRA: rel L2 %.2e vs DJL blocks; LoRA moved the output by %.2e%n",
          err, relErr(plain, scripted));
      assertTrue(relErr(plain, scripted) > 1e-3, "the side paths must change the output");
      assertTrue(err <= 1e-5, "scripted vs DJL blocks with LoRA: " + err);
    }
  }

  @Test
  void takesStoredWeightsAndFreesTemporaries() {
    BlockKernel k = new ScriptedBlocks(helpers, false);
    assertTrue(k.takesStoredWeights());
    assertTrue(k.freesTemporaries());
    assertEquals(false, BlockKernel.DJL.takesStoredWeights());
  }

  private static LowRank lowRank(NDManager m, long out, long in, int seed) {
    m.getEngine().setRandomSeed(seed);
    NDArray down = m.randomNormal(0, 0.2f, new Shape(4, in), ai.djl.ndarray.types.DataType.FLOAT32);
    NDArray up = m.randomNormal(0, 0.2f, new Shape(out, 4), ai.djl.ndarray.types.DataType.FLOAT32);
    return new LowRank(down, up);
  }

  /** The DiT on the fixture's inputs, one double and one single block streamed. */
  private static float[] forward(BlockKernel kernel, Adapters adapters, NDManager m) {
    Weights w = new Weights(store, ComputeTarget.cpu());
    DeviceLedger ledger = DeviceLedger.unlimited();
    try (FluxTransformer model =
        FluxTransformer.load(
            w,
            params,
            ignored ->
                StreamedBlocks.load(
                    w,
                    params,
                    1,
                    1,
                    ledger,
                    HostToDevice.synchronous(),
                    Widener.lookupTable(),
                    kernel),
            AttentionKernel.EAGER,
            kernel)) {
      NDArray[] in = new NDArray[INPUTS.length];
      for (int i = 0; i < INPUTS.length; i++) {
        in[i] = input(m, "dit.in." + INPUTS[i]);
      }
      return model
          .forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], adapters)
          .toFloatArray();
    }
  }

  private static NDArray input(NDManager m, String name) {
    return new Weights(expected, ComputeTarget.cpu()).load(name, m);
  }
}
