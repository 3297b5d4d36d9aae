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
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.util.List;
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
          // The planner's figure for this job (128x96 px: 48 image tokens, T5 at its 32) in
          // float32.
          long estimate =
              ActivationEstimates.ditForward(
                  ActivationEstimates.model(
                      ModelDimsReader.read(ModelDirectory.resolve(Fixtures.MODEL, null)),
                      128,
                      96,
                      EngineProfile.DJL_EAGER),
                  chunk,
                  4);
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
  void theLedgersFiguresAreThePlannersForEachEngine() {
    FluxDims dev = FluxDims.FLUX_DEV;
    for (int side : new int[] {512, 1024, 1536}) {
      long scripted = 0;
      for (EngineProfile engine :
          List.of(EngineProfile.DJL_SCRIPTED, EngineProfile.DJL_FUSED, EngineProfile.DJL_EAGER)) {
        FluxMemoryModel planner =
            new FluxMemoryModel(dev, new Workload(side, side, 1, StorageType.FP8), engine);
        long blocks =
            Math.max(planner.doubleBlockActivationBytes(0), planner.singleBlockActivationBytes(0));
        long rope = planner.ropeBytes();
        FluxMemoryModel booked = ActivationEstimates.model(dev, side, side, engine);
        assertEquals(
            blocks + rope, ActivationEstimates.ditForward(booked, 0, 2), engine + " " + side);
        assertEquals(
            planner.decodeActivationBytes(0, 2), ActivationEstimates.vaeDecode(booked, 0, 2));
        assertTrue(
            planner.decodeWorkingBytes(0) > planner.decodeActivationBytes(0, 2),
            "the decode phase also holds the latents, which the ledger books with the job");
        assertEquals(
            Math.max(planner.t5ActivationBytes(), planner.clipActivationBytes()) * 2,
            ActivationEstimates.textEncode(booked, 4),
            "float32 books twice the planner's float16");
        if (engine == EngineProfile.DJL_SCRIPTED) {
          scripted = blocks;
        } else {
          assertTrue(scripted < blocks, "the scripted blocks hold less than DJL's at " + side);
        }
      }
    }
  }
}
