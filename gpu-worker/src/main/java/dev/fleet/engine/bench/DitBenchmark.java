package dev.fleet.engine.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.BlockKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.gpu.FusedAttention;
import dev.fleet.engine.gpu.PinnedUploads;
import dev.fleet.engine.gpu.ScriptedBlocks;
import dev.fleet.engine.gpu.TorchScriptHelpers;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.sampling.LatentPacking;
import dev.fleet.engine.synthetic.DitLayout;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.synthetic.SyntheticTensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.DitResidency;
import dev.fleet.model.memory.FluxMemoryModel;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;
import java.util.ArrayList;
import java.util.List;

/**
 * Real denoising steps of a FLUX-shaped DiT with random weights made in place (no download, no
 * file), under a memory plan: the plan's resident blocks on the device, the others streamed from
 * host memory every step through the same {@link StreamedBlocks} the worker uses. What it measures
 * is the DiT's step, as ANCHORS.md's yardsticks do: text encoders and decode excluded.
 */
public final class DitBenchmark {
  private DitBenchmark() {}

  /**
   * @param plan the planner's plan for this budget (its DiT residency and attention chunk are used)
   * @param memory the memory model the plan came from (for the DiT-only prediction)
   */
  public static BenchResult run(
      ModelShape shape,
      Plan plan,
      FluxMemoryModel memory,
      long budgetBytes,
      int width,
      int height,
      int steps,
      ComputeTarget target,
      double bandwidthForBound,
      boolean scriptedBlocks,
      boolean fp8Matmul) {
    FluxParams params = shape.dit();
    DitResidency residency = plan.dit();
    boolean fp8 = residency.storage() == StorageType.FP8;
    DType half = target.isHalf() ? DType.F16 : DType.F32;
    SyntheticTensorStore store =
        new SyntheticTensorStore(
            DitLayout.of(params.dims()),
            t -> fp8 && DitLayout.isBlockLinearWeight(t) ? DType.F8_E4M3 : half,
            1234);
    boolean gpu = target.device().isGpu();
    boolean helpersOn = EngineProfiles.usesHelpers(target);
    int deviceIndex = Math.max(0, target.device().getDeviceId());
    long ditPrediction =
        memory.persistentBytes(residency, Residency.STAGED, Residency.STAGED, Residency.STAGED)
            + memory.denoiseWorkingBytes(residency, plan.attentionChunk());
    DeviceLedger ledger = new DeviceLedger(budgetBytes - MemoryModel.RESERVE_BYTES);
    try (TorchScriptHelpers helpers = helpersOn ? TorchScriptHelpers.load(target.device()) : null;
        GpuMemoryProbe probe = gpu ? GpuMemoryProbe.start(deviceIndex) : null) {
      double pinnedGBps = helpersOn ? measurePinnedBandwidth(helpers) : 0;
      HostToDevice transfer =
          helpersOn ? new PinnedUploads(helpers, target.device()) : HostToDevice.synchronous();
      Widener widener = helpersOn ? ((PinnedUploads) transfer).widener() : Widener.lookupTable();
      AttentionKernel attention = helpersOn ? new FusedAttention(helpers) : AttentionKernel.EAGER;
      BlockKernel blockKernel =
          helpersOn && scriptedBlocks ? new ScriptedBlocks(helpers, fp8Matmul) : BlockKernel.DJL;
      if (plan.attentionChunk() > 0) {
        attention = new ChunkedAttention(plan.attentionChunk(), attention);
      }
      long loadStart = System.nanoTime();
      Weights weights = new Weights(store, target);
      StreamedBlocks[] blocks = new StreamedBlocks[1];
      AttentionKernel kernel = attention;
      try (FluxTransformer dit =
          FluxTransformer.load(
              weights,
              params,
              m ->
                  blocks[0] =
                      StreamedBlocks.load(
                          weights,
                          params,
                          residency.residentDoubleBlocks(),
                          residency.residentSingleBlocks(),
                          ledger,
                          transfer,
                          widener,
                          blockKernel),
              kernel,
              blockKernel)) {
        double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
        List<Double> times = new ArrayList<>();
        long streamed = 0;
        try (NDManager job = NDManager.newBaseManager(target.device())) {
          int h = height / 16;
          int w = width / 16;
          int txtLen = (int) memory.textTokens(); // 512 for dev, 256 for schnell
          NDArray img =
              job.randomNormal(new Shape(1, (long) h * w, params.dims().inChannels()))
                  .toType(target.dtype(), false);
          NDArray imgIds = LatentPacking.imageIds(job, 1, h, w, DataType.FLOAT32);
          NDArray txt =
              job.randomNormal(new Shape(1, txtLen, params.dims().contextInDim()))
                  .toType(target.dtype(), false);
          NDArray txtIds = LatentPacking.textIds(job, 1, txtLen, DataType.FLOAT32);
          NDArray y =
              job.randomNormal(new Shape(1, params.dims().vecInDim()))
                  .toType(target.dtype(), false);
          NDArray t = job.full(new Shape(1), 0.5f, DataType.FLOAT32);
          NDArray g =
              params.dims().guidanceEmbed() ? job.full(new Shape(1), 3.5f, DataType.FLOAT32) : null;
          for (int s = 0; s <= steps; s++) {
            long before = blocks[0].bytesCopied();
            long start = System.nanoTime();
            try (NDManager scope = job.newSubManager()) {
              NDArray out = dit.forward(img, imgIds, txt, txtIds, y, t, g);
              out.attach(scope);
              sync(helpers, out);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (s > 0) { // the first step warms the caches and the allocator up
              times.add(seconds);
              streamed = blocks[0].bytesCopied() - before;
            }
          }
        }
        double median = median(times);
        long measured = probe == null ? -1 : probe.peakBytes();
        double transferSeconds =
            streamed / (bandwidthForBound > 0 ? bandwidthForBound : Double.MAX_VALUE);
        return new BenchResult(
            shape.name(),
            target.device() + "/" + target.dtype(),
            residency.storage().name().toLowerCase(),
            width,
            height,
            budgetBytes,
            plan.name(),
            residency.residentDoubleBlocks(),
            residency.residentSingleBlocks(),
            (blockKernel != BlockKernel.DJL
                    ? "scripted blocks" + (fp8Matmul ? ", fp8 matmul" : "")
                    : helpersOn ? "sdpa" : "eager")
                + (plan.attentionChunk() > 0 ? "/chunk " + plan.attentionChunk() : ""),
            times,
            median,
            measured,
            ledger.peakBytes(),
            ditPrediction,
            MemoryModel.RESERVE_BYTES,
            streamed,
            median > 0 ? streamed / median / 1e9 : 0,
            pinnedGBps,
            Math.max(plan.computeSecondsPerStep(), transferSeconds),
            loadSeconds,
            1,
            0);
      } finally {
        if (gpu) {
          JniUtils.emptyCudaCache();
        }
      }
    }
  }

  /** Waits for the device: through the helper on a GPU, by reading one value otherwise. */
  private static void sync(TorchScriptHelpers helpers, NDArray out) {
    if (helpers != null) {
      helpers.synchronize();
    } else {
      out.get(0).toFloatArray();
    }
  }

  /** Host-to-device bandwidth of 1 GiB of pinned float8 through the upload helper. */
  private static double measurePinnedBandwidth(TorchScriptHelpers helpers) {
    try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu());
        NDManager d = NDManager.newBaseManager(ai.djl.Device.gpu())) {
      NDArray pinned = helpers.randomFp8Pinned(32768, 32768, 0.02, m);
      double best = 0;
      for (int i = 0; i < 3; i++) {
        helpers.synchronize();
        long start = System.nanoTime();
        try (var up = helpers.start(new ai.djl.ndarray.NDList(pinned))) {
          up.finish(d).close();
        }
        helpers.synchronize();
        best = Math.max(best, (32768.0 * 32768.0) / ((System.nanoTime() - start) / 1e9) / 1e9);
      }
      return best;
    }
  }

  /** The median of {@code xs}, 0 when empty. */
  static double median(List<Double> xs) {
    if (xs.isEmpty()) {
      return 0;
    }
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    return s.get(s.size() / 2);
  }
}
