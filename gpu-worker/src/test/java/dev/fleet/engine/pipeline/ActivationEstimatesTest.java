package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.ResidentBlocks;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The booked DiT activation estimate against what is really alive: every array under the caller's
 * manager, sampled inside the attention kernel (the block's temporaries so far, the attention's
 * inputs and the kernel's own work).
 */
class ActivationEstimatesTest {
  private static final String[] INPUTS = {
    "img", "img_ids", "txt", "txt_ids", "y", "timesteps", "guidance"
  };

  @Test
  void ditEstimateCoversTheArraysAliveDuringAttention() {
    var dir = Fixtures.MODEL.resolve("transformer");
    FluxParams params = FluxParams.fromJson(dir.resolve("config.json"));
    try (TensorStore store = TensorStore.open(dir.resolve("flux.safetensors"));
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      for (int chunk : new int[] {0, 8}) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
          NDArray[] in = new NDArray[INPUTS.length];
          for (int i = 0; i < INPUTS.length; i++) {
            in[i] = new Weights(expected, ComputeTarget.cpu()).load("dit.in." + INPUTS[i], m);
          }
          long inputs = DeviceLedger.bytesOf(m);
          AtomicLong most = new AtomicLong();
          AttentionKernel inner =
              (q, k, v) -> {
                NDArray out = AttentionKernel.EAGER.attend(q, k, v);
                most.accumulateAndGet(DeviceLedger.bytesOf(m) - inputs, Math::max);
                return out;
              };
          AttentionKernel kernel = chunk == 0 ? inner : new ChunkedAttention(chunk, inner);
          try (FluxTransformer model =
              FluxTransformer.load(w, params, mm -> ResidentBlocks.load(w, params, mm), kernel)) {
            model.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
          }
          long estimate = ActivationEstimates.ditForward(params, 1, 48, 32, 4, chunk);
          System.out.printf(
              "DiT activations, chunk %d: alive during attention %d B, estimate %d B%n",
              chunk, most.get(), estimate);
          assertTrue(most.get() > 0);
          assertTrue(estimate >= most.get(), "estimate " + estimate + " < measured " + most.get());
        }
      }
    }
  }

  @Test
  void scriptedBlocksBookWhatThePlannerPredictsForThem() {
    ModelDims dev = ModelDims.FLUX_DEV;
    for (int side : new int[] {512, 1024, 1536}) {
      MemoryModel planner =
          new MemoryModel(
              dev, new Workload(side, side, 1, StorageType.FP8), EngineProfile.DJL_SCRIPTED);
      long blocks =
          Math.max(planner.doubleBlockActivationBytes(0), planner.singleBlockActivationBytes(0));
      long booked = ActivationEstimates.ditForwardFreeingTemporaries(dev, side, side, 0);
      long rope = 8L * planner.tokens() * dev.dit().headDim();
      assertEquals(blocks + rope, booked, "the ledger books the planner's figure at " + side);
      long djlBlocks =
          ActivationEstimates.ditForward(
              ModelShape.FLUX_DEV.dit(),
              1,
              (side / 16L) * (side / 16L),
              planner.textTokens(),
              2,
              0);
      assertTrue(booked < djlBlocks, side + ": " + booked + " vs DJL blocks " + djlBlocks);
    }
  }
}
