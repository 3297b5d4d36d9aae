package dev.fleet.engine.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.fleet.engine.gpu.EngineProfiles;
import dev.fleet.engine.gpu.GpuExecution;
import dev.fleet.engine.gpu.TorchScriptHelpers;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.nextdit.EulerSampler;
import dev.fleet.engine.nextdit.GuidedVelocity;
import dev.fleet.engine.nextdit.NextDitParams;
import dev.fleet.engine.nextdit.NextDitTransformer;
import dev.fleet.engine.nextdit.PlannedNewbiePipeline;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.synthetic.NewbieModelWriter;
import dev.fleet.engine.synthetic.RecordedLayout;
import dev.fleet.engine.synthetic.SyntheticTensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.DitResidency;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.NewbieMemoryModel;
import dev.fleet.model.memory.Plan;
import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;
import java.util.ArrayList;
import java.util.List;

/**
 * Real denoising steps of NewBie-image's Next-DiT with random weights made in place (no download,
 * no file: its layout recorded from the model's own loading code), under a memory plan: the plan's
 * resident blocks on the device, the others streamed from host memory every step through the shared
 * {@link BlockStore}, float8 blocks widened per block. Each step is the pipeline's: NewBie's Euler
 * sampler with classifier-free guidance, the conditional and unconditional passes batched (the
 * denoiser's batch doubled) until the CFG truncation, on caption features of Gemma's full
 * truncation length. Text encoders and decode are excluded, as for FLUX's {@link DitBenchmark}.
 */
public final class NewbieDitBenchmark {
  private NewbieDitBenchmark() {}

  /**
   * @param plan the planner's plan for this budget (its DiT residency and attention chunk are used)
   * @param memory the memory model the plan came from (for the DiT-only prediction)
   * @param cfgTruncation model time from which the unconditional pass is skipped (1: never)
   */
  public static BenchResult run(
      NewbieDims dims,
      Plan plan,
      NewbieMemoryModel memory,
      long budgetBytes,
      int width,
      int height,
      int steps,
      float cfgTruncation,
      ComputeTarget target,
      double bandwidthForBound) {
    NextDitParams params = NextDitParams.of(dims.nextDit());
    DitResidency residency = plan.dit();
    boolean fp8 = residency.storage() == StorageType.FP8;
    DType half = target.isHalf() ? DType.F16 : DType.F32;
    SyntheticTensorStore store =
        new SyntheticTensorStore(
            RecordedLayout.of(NextDitTransformer.parameterShapes(params)),
            t -> fp8 && NewbieModelWriter.isBlockMatrix(t) ? DType.F8_E4M3 : half,
            1234);
    boolean gpu = target.device().isGpu();
    int deviceIndex = Math.max(0, target.device().getDeviceId());
    long ditPrediction =
        memory.persistentBytes(residency, Residency.STAGED, Residency.STAGED, Residency.STAGED)
            + memory.denoiseWorkingBytes(residency, plan.attentionChunk());
    DeviceLedger ledger = new DeviceLedger(budgetBytes - MemoryModel.RESERVE_BYTES);
    int dtypeBytes = target.dtype().getNumOfBytes();
    try (TorchScriptHelpers helpers =
            EngineProfiles.usesHelpers(target) ? TorchScriptHelpers.load(target.device()) : null;
        GpuMemoryProbe probe = gpu ? GpuMemoryProbe.start(deviceIndex) : null;
        DeviceLedger.Booking nonBlocks =
            ledger.reserve(
                dims.nextDit().nonBlockParams() * dtypeBytes,
                "dit embedders, context refiner, head")) {
      ExecutionOptions options =
          GpuExecution.options(ExecutionOptions.defaults(), helpers, target, false);
      long loadStart = System.nanoTime();
      try (NextDitTransformer dit =
              NextDitTransformer.load(
                  new Weights(store, target),
                  params,
                  residency.residentSingleBlocks(),
                  ledger,
                  options.hostToDevice(),
                  options.widener(),
                  BlockStore.Float8.AS_STORED,
                  plan.attentionChunk());
          NDManager job = NDManager.newBaseManager(target.device());
          // What the pipeline books for denoising beside the blocks: its state and a block's
          // activations (the memory model's float16 counts in the compute dtype).
          DeviceLedger.Booking working =
              ledger.reserve(
                  (memory.denoiseStateBytes()
                          + memory.forwardActivationBytes(plan.attentionChunk()))
                      / 2
                      * dtypeBytes,
                  "dit working")) {
        double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
        int f = dims.autoencoder().downscale();
        int captionTokens = (int) memory.captionTokens();
        NDArray noise =
            job.randomNormal(new Shape(1, params.inChannels(), height / f, width / f))
                .toType(DataType.FLOAT32, false);
        NDArray capFeats =
            job.randomNormal(new Shape(2, captionTokens, params.capFeatDim()))
                .toType(target.dtype(), false);
        NDArray capMask = job.ones(new Shape(2, captionTokens), DataType.INT64);
        NDArray pooled =
            job.randomNormal(new Shape(2, params.clipTextDim())).toType(target.dtype(), false);
        // One step more than timed: the first warms the caches and the allocator up.
        EulerSampler sampler =
            new EulerSampler(
                steps + 1,
                PlannedNewbiePipeline.TIME_SHIFT,
                new GuidedVelocity(
                    (float) PlannedNewbiePipeline.DEFAULTS.guidance(),
                    cfgTruncation,
                    PlannedNewbiePipeline.RENORM_CFG));
        List<Double> times = new ArrayList<>();
        long[] since = {System.nanoTime()};
        long[] copied = {dit.blocks().bytesCopied(), 0};
        int[] guided = {0};
        sampler
            .sample(
                dit,
                noise,
                capFeats,
                capMask,
                pooled,
                (k, latents, velocity, applied) -> {
                  if (helpers != null) {
                    helpers.synchronize();
                  } else {
                    latents.get(0).toFloatArray(); // waits for the step's arithmetic
                  }
                  long now = System.nanoTime();
                  long bytes = dit.blocks().bytesCopied();
                  if (k > 1) {
                    times.add((now - since[0]) / 1e9);
                    copied[1] = bytes - copied[0];
                    guided[0] += applied.guided() ? 1 : 0;
                  }
                  copied[0] = bytes;
                  since[0] = now;
                })
            .close();
        double median = DitBenchmark.median(times);
        long measured = probe == null ? -1 : probe.peakBytes();
        long streamed = copied[1];
        double transferSeconds =
            streamed / (bandwidthForBound > 0 ? bandwidthForBound : Double.MAX_VALUE);
        return new BenchResult(
            dims.name(),
            target.device() + "/" + target.dtype(),
            residency.storage().label(),
            width,
            height,
            budgetBytes,
            plan.name(),
            residency.residentDoubleBlocks(),
            residency.residentSingleBlocks(),
            (helpers != null ? "sdpa" : "eager")
                + (plan.attentionChunk() > 0 ? "/chunk " + plan.attentionChunk() : ""),
            times,
            median,
            measured,
            ledger.peakBytes(),
            ditPrediction,
            MemoryModel.RESERVE_BYTES,
            streamed,
            median > 0 ? streamed / median / 1e9 : 0,
            0,
            Math.max(plan.computeSecondsPerStep(), transferSeconds),
            loadSeconds,
            (int) memory.denoiserBatch(),
            guided[0]);
      } finally {
        if (gpu) {
          JniUtils.emptyCudaCache();
        }
      }
    }
  }
}
