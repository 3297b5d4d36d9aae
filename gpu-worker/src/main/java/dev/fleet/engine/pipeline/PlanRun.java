package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.lora.DeviceAdapters;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.BookedScope;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.sampling.LatentPacking;
import dev.fleet.engine.sampling.Schedule;
import dev.fleet.engine.sampling.TorchNoise;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.FluxMemoryModel;
import java.util.List;

/**
 * One job under a loaded plan: the seeded latents, the prompt's conditioning, the Euler steps
 * through the DiT and the decode, every device allocation booked in the ledger for the job's
 * duration and every array on a child of the pipeline's job manager (so a leak shows there). {@link
 * PlannedPipeline} chooses and reloads the plan; this runs it.
 */
final class PlanRun {
  private final ModelDirectory model;
  private final ComputeTarget target;
  private final FluxParams params;
  private final long vaeBytes;
  private final DeviceLedger ledger;
  private final ExecutionOptions options;
  private final NDManager jobs;
  private final FluxDims plannerDims;

  PlanRun(
      ModelDirectory model,
      ComputeTarget target,
      FluxParams params,
      FluxDims plannerDims,
      long vaeBytes,
      DeviceLedger ledger,
      ExecutionOptions options,
      NDManager jobs) {
    this.model = model;
    this.target = target;
    this.params = params;
    this.plannerDims = plannerDims;
    this.vaeBytes = vaeBytes;
    this.ledger = ledger;
    this.options = options;
    this.jobs = jobs;
  }

  PlannedGeneration run(
      LoadedPlan l,
      GenerationSpec spec,
      float[] noise,
      GenerationListener listener,
      List<PlanEvent> events,
      LoraStack loras) {
    int h = spec.height() / 16; // packed rows
    int w = spec.width() / 16; // packed columns
    Shape latentShape = PipelineGeometry.latentShape(h, w);
    float[] initial = TorchNoise.initial(noise, spec.seed(), latentShape);
    float[] timesteps = Schedule.timesteps(spec.steps(), h * w, params.dims().guidanceEmbed());
    // The job's float32 state (latents, positions), as the planner counts it.
    long stateBytes = plannerModel(h, w).jobStateBytes();
    ledger.resetPeak();
    long[] moved = new long[spec.steps()];
    long textBefore = l.text().t5BytesStreamed();
    try (BookedScope state = ledger.scope(jobs, stateBytes, "job latents")) {
      NDManager job = state.manager();
      NDArray latent = job.create(initial, latentShape); // (1, 16, 2h, 2w) float32
      trace(listener, "pipe.noise", latent);
      trace(listener, "pipe.timesteps", job.create(timesteps));
      NDArray img =
          denoise(
              l, job, spec, LatentPacking.pack(latent), h, w, timesteps, listener, moved, loras);
      listener.onPhaseStart(GenerationListener.DECODE);
      NDArray pixels = decode(l, img, h, w); // (1, 3, H, W) float32 in [-1, 1]
      trace(listener, "pipe.image", pixels);
      GeneratedImage image = ImageOutput.of(spec, pixels.toFloatArray());
      return new PlannedGeneration(
          image,
          l.plan(),
          events,
          moved,
          l.text().t5BytesStreamed() - textBefore,
          ledger.peakBytes(),
          ledger.budgetBytes(),
          ledger.bookingsAtPeak());
    }
  }

  /**
   * The memory planner's model of this job ({@code h x w} packed tokens), under the profile of the
   * kernels that run: the ledger books activations by its figures.
   */
  private FluxMemoryModel plannerModel(int h, int w) {
    return ActivationEstimates.model(plannerDims, w * 16, h * 16, options.engineProfile());
  }

  /** Euler steps from t=1 to t=0; latents stay float32 whatever the compute dtype. */
  private NDArray denoise(
      LoadedPlan l,
      NDManager job,
      GenerationSpec spec,
      NDArray img,
      int h,
      int w,
      float[] ts,
      GenerationListener listener,
      long[] moved,
      LoraStack loras) {
    // Ids, timesteps and guidance stay float32: the DiT embeds positions and times in float32
    // whatever it computes in (1000 * t in fp16 would lose the time's low bits).
    DataType dt = DataType.FLOAT32;
    int dtypeBytes = target.dtype().getNumOfBytes();
    long textBytes =
        (long) dtypeBytes
            * (l.text().t5Length() * (long) params.dims().contextInDim()
                + params.dims().vecInDim());
    DitLinears linears = DitLinears.of(params);
    // The side paths' factors, and their (tokens, rank) intermediate beside the activations.
    long loraBytes =
        loras.deviceBytes(linears, dtypeBytes)
            + (long) dtypeBytes * loras.widestRank() * ((long) h * w + l.text().t5Length());
    listener.onPhaseStart(GenerationListener.TEXT);
    try (BookedScope loraScope = ledger.scope(job, loraBytes, "lora adapters");
        DeviceLedger.Booking condBooking = ledger.reserve(textBytes, "text embeddings");
        TextEmbeddings cond = l.text().embed(spec.prompt(), job, loras)) {
      Adapters adapters =
          DeviceAdapters.build(loras, linears, target.dtype(), loraScope.manager()).orNone();
      NDArray imgIds = LatentPacking.imageIds(job, 1, h, w, dt);
      NDArray txtIds = LatentPacking.textIds(job, 1, cond.t5().getShape().get(1), dt);
      NDArray guidance =
          params.dims().guidanceEmbed()
              ? job.full(new Shape(1), (float) spec.guidance(), dt)
              : null;
      long activations =
          ActivationEstimates.ditForward(plannerModel(h, w), l.plan().attentionChunk(), dtypeBytes);
      int steps = ts.length - 1;
      listener.onPhaseStart(GenerationListener.DENOISE);
      for (int k = 0; k < steps; k++) {
        if (listener.cancelled()) {
          throw new GenerationCancelledException(k);
        }
        long copiedBefore = l.blocks().bytesCopied();
        NDArray next;
        try (BookedScope booked = ledger.scope(img.getManager(), activations, "dit activations")) {
          NDManager scope = booked.manager();
          scope.tempAttachAll(img, imgIds, txtIds, cond.t5(), cond.clipPooled());
          if (guidance != null) {
            scope.tempAttachAll(guidance);
          }
          NDArray t = scope.full(new Shape(1), ts[k], dt);
          NDArray pred = // (1, L, 64) float32, img's dtype
              l.dit()
                  .forward(
                      img, imgIds, cond.t5(), txtIds, cond.clipPooled(), t, guidance, adapters);
          // img + (t_prev - t_curr) * pred, the step size taken in double as Python does
          float step = (float) ((double) ts[k + 1] - (double) ts[k]);
          next = scope.ret(img.add(pred.mul(step)));
        } finally {
          l.blocks().cancelPrefetch();
        }
        moved[k] = l.blocks().bytesCopied() - copiedBefore;
        img.close();
        img = next;
        trace(listener, "pipe.latents.step" + k, img);
        listener.onStep(k + 1, steps);
      }
      return img;
    }
  }

  /** The decode, with the autoencoder loaded for it (and released after) when it is staged. */
  private NDArray decode(LoadedPlan l, NDArray img, int h, int w) {
    if (l.vae() != null) {
      return decode(l.plan(), l.vae(), img, h, w);
    }
    try (DeviceLedger.Booking weights = ledger.reserve(vaeBytes, "autoencoder staged");
        AutoEncoder vae = LoadedPlan.loadAutoEncoder(model, target)) {
      return decode(l.plan(), vae, img, h, w);
    }
  }

  private NDArray decode(ExecutionPlan plan, AutoEncoder vae, NDArray img, int h, int w) {
    long bytes =
        ActivationEstimates.vaeDecode(
            plannerModel(h, w),
            PlanMapping.decodeTilePixels(plan.vaeTile()),
            target.dtype().getNumOfBytes());
    try (BookedScope decode = ledger.scope(img.getManager(), bytes, "autoencoder decode")) {
      NDManager scope = decode.manager();
      scope.tempAttachAll(img);
      NDArray z = LatentPacking.unpack(img, h, w);
      NDArray decoded =
          plan.tiledDecode()
              ? vae.decodeTiled(z, plan.vaeTile(), plan.attentionChunk())
              : vae.decode(z);
      return scope.ret(decoded.toType(DataType.FLOAT32, false).clip(-1f, 1f));
    }
  }

  private static void trace(GenerationListener listener, String name, NDArray value) {
    if (listener.wantsTensors()) {
      listener.onTensor(name, value);
    }
  }
}
