package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.lora.DeviceAdapters;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.MemoryFailure;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.sampling.LatentPacking;
import dev.fleet.engine.sampling.Schedule;
import dev.fleet.engine.sampling.TorchNoise;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.Residency;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * FLUX text-to-image with BFL's sampling semantics (T5 + CLIP conditioning, seeded noise, 2x2
 * packing, the shifted schedule, Euler steps with distilled guidance, unpacking and decoding) under
 * a memory budget: executed under an {@link ExecutionPlan} with every device allocation booked in a
 * {@link DeviceLedger}. DiT blocks beyond the plan's resident counts stream from host memory, the
 * text encoders may be staged or T5 streamed block by block (and a cached prompt skips them), the
 * autoencoder may be loaded for the decode only, the decoder may run in tiles and attention in
 * query chunks.
 *
 * <p>The plans come as a list, fastest first. At load the first plan whose resident weights fit is
 * taken. When a job runs out of memory (a refused booking, or the device's own out-of-memory error)
 * the job's arrays are freed with it, the device caches are released, the next plan is loaded and
 * the job is run once more, from its seed, so the result is what the first attempt would have
 * produced. Each such change is a {@link PlanEvent}, returned with the result and told to the
 * {@link PlanListener}. A failed retry ends in a {@link GenerationOutOfMemoryException}; the
 * pipeline stays usable on the more frugal plan.
 */
public final class PlannedPipeline implements AutoCloseable {
  private final ModelDirectory model;
  private final ComputeTarget target;
  private final List<ExecutionPlan> plans;
  private final ExecutionOptions options;
  private final DeviceLedger ledger;
  private final TensorStore ditStore;
  private final FluxParams params;
  private final long ditOuterBytes;
  private final int t5Length;
  private final AutoEncoderParams vaeParams;
  private final long vaeBytes;
  private ModelDims plannerDims;

  /** Parent of every job's manager: what is left under it after a job is a leak. */
  private final NDManager jobs;

  private int planIndex = -1;
  private Loaded loaded;

  /** What one plan keeps loaded. */
  private record Loaded(
      ExecutionPlan plan,
      FluxTransformer dit,
      StreamedBlocks blocks,
      DeviceLedger.Booking ditBooking,
      TextStage text,
      AutoEncoder vae,
      DeviceLedger.Booking vaeBooking)
      implements AutoCloseable {
    @Override
    public void close() {
      try {
        text.close();
      } finally {
        dit.close(); // closes the block source, which releases the resident blocks' bookings
        ditBooking.close();
        closeQuietly(vae, vaeBooking); // null when the autoencoder is staged
      }
    }
  }

  private PlannedPipeline(
      ModelDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      DeviceLedger ledger,
      TensorStore ditStore,
      FluxParams params,
      AutoEncoderParams vaeParams) {
    this.model = model;
    this.target = target;
    this.plans = plans;
    this.options = options;
    this.ledger = ledger;
    this.ditStore = ditStore;
    this.params = params;
    this.vaeParams = vaeParams;
    int dtypeBytes = target.dtype().getNumOfBytes();
    this.vaeBytes = ParameterBytes.of(model.vaeWeights(), dtypeBytes);
    this.ditOuterBytes =
        ParameterBytes.of(
            ditStore,
            n -> !n.startsWith("double_blocks.") && !n.startsWith("single_blocks."),
            dtypeBytes);
    this.t5Length = params.defaultT5Length();
    this.jobs = NDManager.newBaseManager(target.device());
  }

  /**
   * Loads a model directory under the first of {@code plans} that fits.
   *
   * @param plans fastest first, all with the same budget (the device's)
   * @throws dev.fleet.engine.memory.BudgetExceededException when not even the last plan's resident
   *     weights fit
   */
  public static PlannedPipeline load(
      ModelDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options) {
    if (plans.isEmpty()) {
      throw new IllegalArgumentException("a planned pipeline needs at least one execution plan");
    }
    long budget = plans.get(0).budgetBytes();
    for (ExecutionPlan p : plans) {
      if (p.budgetBytes() != budget) {
        throw new IllegalArgumentException(
            "plans must share one device budget: "
                + plans.get(0).name()
                + " has "
                + budget
                + " bytes, "
                + p.name()
                + " has "
                + p.budgetBytes());
      }
    }
    DeviceLedger ledger = new DeviceLedger(budget);
    TensorStore store = null;
    PlannedPipeline pipeline = null;
    try {
      store = model.openTransformer();
      FluxParams params = FluxParams.infer(store, model.transformerConfig());
      AutoEncoderParams vaeParams = model.vaeParams();
      PipelineGeometry.checkCompatible(params, vaeParams);
      pipeline =
          new PlannedPipeline(
              model, target, List.copyOf(plans), options, ledger, store, params, vaeParams);
      pipeline.loadFrom(0, new ArrayList<>());
      return pipeline;
    } catch (RuntimeException e) {
      if (pipeline != null) {
        pipeline.close();
      } else {
        closeQuietly(store);
      }
      throw e;
    }
  }

  /** Loads the first plan from {@code first} on whose resident weights fit. */
  private void loadFrom(int first, List<PlanEvent> events) {
    RuntimeException last = null;
    for (int i = first; i < plans.size(); i++) {
      try {
        loaded = loadPlan(plans.get(i));
        planIndex = i;
        return;
      } catch (RuntimeException e) {
        if (!MemoryFailure.isMemoryFailure(e)) {
          throw e;
        }
        last = e;
        String next = i + 1 < plans.size() ? plans.get(i + 1).name() : "none";
        event(events, PlanEvent.Kind.LOAD_FELL_BACK, plans.get(i).name(), next, e);
        options.releaseDeviceCaches().run();
      }
    }
    throw last;
  }

  private Loaded loadPlan(ExecutionPlan plan) {
    Weights weights = new Weights(ditStore, target);
    AttentionKernel kernel =
        plan.chunkedAttention()
            ? new ChunkedAttention(plan.attentionChunk(), options.attention())
            : options.attention();
    AtomicReference<StreamedBlocks> blocks = new AtomicReference<>();
    DeviceLedger.Booking ditBooking = ledger.reserve(ditOuterBytes, "dit embedders and head");
    FluxTransformer dit = null;
    TextStage text = null;
    AutoEncoder vae = null;
    DeviceLedger.Booking vaeBooking = null;
    try {
      dit =
          FluxTransformer.load(
              weights,
              params,
              m -> {
                blocks.set(
                    StreamedBlocks.load(
                        weights,
                        params,
                        plan.residentDoubleBlocks(params.depth()),
                        plan.residentSingleBlocks(params.depthSingleBlocks()),
                        ledger,
                        options.hostToDevice(),
                        options.widener(),
                        options.blocks()));
                return blocks.get();
              },
              kernel,
              options.blocks());
      dit.manager().cap();
      text =
          TextStage.load(
              model,
              t5Length,
              target,
              plan.t5(),
              options.embeddingCache(),
              ledger,
              options.hostToDevice());
      if (plan.autoencoder() == Residency.RESIDENT) {
        vaeBooking = ledger.reserve(vaeBytes, "autoencoder resident");
        vae = loadAutoEncoder();
      }
      return new Loaded(plan, dit, blocks.get(), ditBooking, text, vae, vaeBooking);
    } catch (RuntimeException e) {
      closeQuietly(vae, vaeBooking, text, dit, ditBooking);
      throw e;
    }
  }

  /** The autoencoder on the device, its parameters on a capped manager. */
  private AutoEncoder loadAutoEncoder() {
    AutoEncoder vae = model.loadVae(target);
    vae.manager().cap();
    return vae;
  }

  public ModelDirectory model() {
    return model;
  }

  public ComputeTarget target() {
    return target;
  }

  public FluxParams params() {
    return params;
  }

  /** The plan in force now (it changes after an out-of-memory fallback). */
  public synchronized ExecutionPlan currentPlan() {
    return loaded.plan();
  }

  public DeviceLedger ledger() {
    return ledger;
  }

  public PromptEmbeddingCache embeddingCache() {
    return options.embeddingCache();
  }

  /** The loaded text stage (tests count its encoder runs). */
  synchronized TextStage textStage() {
    return loaded.text();
  }

  /**
   * Host-to-device bytes of one streamed T5 encode under the current plan (0 unless T5 streams).
   */
  public synchronized long t5BytesPerEncode() {
    return loaded.text().t5BytesPerEncode();
  }

  /** Host-to-device bytes of one forward pass under the current plan. */
  public synchronized long streamedBytesPerStep() {
    return loaded.blocks().streamedBytesPerPass();
  }

  /** Generates with the seed's noise. */
  public PlannedGeneration generate(GenerationSpec spec, GenerationListener listener) {
    return generate(spec, null, listener);
  }

  /**
   * One job, retried once under the next plan if it runs out of memory.
   *
   * @param noise the initial latent noise (1, 16, 2*ceil(h/16), 2*ceil(w/16)) flattened, or null to
   *     draw it from the seed exactly as {@code torch.randn} with a CPU generator would
   * @throws GenerationOutOfMemoryException when the retry runs out of memory too
   */
  public PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener) {
    return generate(spec, noise, listener, LoraStack.NONE);
  }

  /**
   * One job with LoRA adapters, retried once under the next plan if it runs out of memory. The
   * adapters are side paths built on the device for this job only (booked in the ledger) and freed
   * with it: the loaded model is neither changed nor reloaded.
   *
   * @param loras the job's adapters; those at strength 0 apply nothing
   * @throws dev.fleet.engine.lora.UnsupportedLoraException when an adapter does not fit the model
   */
  public synchronized PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras) {
    List<PlanEvent> events = new ArrayList<>();
    try {
      return run(spec, noise, listener, events, loras);
    } catch (RuntimeException first) {
      if (!MemoryFailure.isMemoryFailure(first)) {
        throw first;
      }
      String from = loaded.plan().name();
      fallBack(events);
      event(events, PlanEvent.Kind.JOB_RETRIED, from, loaded.plan().name(), first);
      try {
        return run(spec, noise, listener, events, loras);
      } catch (RuntimeException second) {
        if (!MemoryFailure.isMemoryFailure(second)) {
          throw second;
        }
        String retried = loaded.plan().name();
        fallBack(events);
        event(events, PlanEvent.Kind.RETRY_FAILED, retried, loaded.plan().name(), second);
        GenerationOutOfMemoryException e =
            new GenerationOutOfMemoryException(
                "out of device memory under plan "
                    + from
                    + " and again under "
                    + retried
                    + ": "
                    + second.getMessage(),
                events,
                second);
        e.addSuppressed(first);
        throw e;
      }
    }
  }

  /**
   * After an out-of-memory failure (the job's arrays and bookings are gone with its scope): frees
   * the device caches and takes the next plan, or keeps the last one when there is none.
   */
  private void fallBack(List<PlanEvent> events) {
    loaded.blocks().cancelPrefetch();
    options.releaseDeviceCaches().run();
    if (planIndex + 1 >= plans.size()) {
      return;
    }
    int failed = planIndex;
    loaded.close();
    loaded = null;
    try {
      loadFrom(failed + 1, events);
    } catch (RuntimeException e) {
      // Not even the more frugal plans load now: go back to the one that loaded before.
      loadFrom(failed, events);
    }
  }

  private void event(
      List<PlanEvent> events, PlanEvent.Kind kind, String from, String to, Throwable cause) {
    PlanEvent e = new PlanEvent(kind, from, to, String.valueOf(cause.getMessage()));
    events.add(e);
    options.listener().onEvent(e);
  }

  private PlannedGeneration run(
      GenerationSpec spec,
      float[] noise,
      GenerationListener listener,
      List<PlanEvent> events,
      LoraStack loras) {
    Loaded l = loaded;
    int h = spec.height() / 16; // packed rows
    int w = spec.width() / 16; // packed columns
    Shape latentShape = PipelineGeometry.latentShape(h, w);
    float[] initial =
        noise != null ? noise : new TorchNoise(spec.seed()).randn((int) latentShape.size());
    if (initial.length != latentShape.size()) {
      throw new IllegalArgumentException(
          "noise has "
              + initial.length
              + " values, "
              + latentShape
              + " needs "
              + latentShape.size());
    }
    float[] timesteps = Schedule.timesteps(spec.steps(), h * w, params.guidanceEmbed());
    long tokens = (long) h * w;
    long textTokens = l.text().t5Length();
    // Latents (noise, packed, prediction, next) in float32, ids and the scalars.
    long stateBytes =
        4L * (latentShape.size() + 3 * tokens * params.inChannels())
            + 4L * 3 * 2 * (tokens + textTokens)
            + 64;
    ledger.resetPeak();
    long[] moved = new long[spec.steps()];
    long textBefore = l.text().t5BytesStreamed();
    try (DeviceLedger.Booking state = ledger.reserve(stateBytes, "job latents");
        NDManager job = jobs.newSubManager()) {
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

  /** The model as the memory planner sees it (read once, when a kernel's bookings need it). */
  private synchronized ModelDims plannerDims() {
    if (plannerDims == null) {
      plannerDims = ModelDimsReader.read(model);
    }
    return plannerDims;
  }

  /** Euler steps from t=1 to t=0; latents stay float32 whatever the compute dtype. */
  private NDArray denoise(
      Loaded l,
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
            * (l.text().t5Length() * (long) params.contextInDim() + params.vecInDim());
    DitLinears linears = DitLinears.of(params);
    // The side paths' factors, and their (tokens, rank) intermediate beside the activations.
    long loraBytes =
        loras.deviceBytes(linears, dtypeBytes)
            + (long) dtypeBytes * loras.widestRank() * ((long) h * w + l.text().t5Length());
    listener.onPhaseStart(GenerationListener.TEXT);
    try (DeviceLedger.Booking loraBooking = ledger.reserve(loraBytes, "lora adapters");
        NDManager loraScope = job.newSubManager();
        DeviceLedger.Booking condBooking = ledger.reserve(textBytes, "text embeddings");
        TextEmbeddings cond = l.text().embed(spec.prompt(), job, loras)) {
      Adapters adapters = DeviceAdapters.build(loras, linears, target.dtype(), loraScope).orNone();
      NDArray imgIds = LatentPacking.imageIds(job, 1, h, w, dt);
      NDArray txtIds = LatentPacking.textIds(job, 1, cond.t5().getShape().get(1), dt);
      NDArray guidance =
          params.guidanceEmbed() ? job.full(new Shape(1), (float) spec.guidance(), dt) : null;
      long activations =
          options.blocks().freesTemporaries()
              ? ActivationEstimates.ditForwardFreeingTemporaries(
                  plannerDims(), w * 16, h * 16, l.plan().attentionChunk())
              : ActivationEstimates.ditForward(
                  params,
                  1,
                  (long) h * w,
                  cond.t5().getShape().get(1),
                  dtypeBytes,
                  l.plan().attentionChunk());
      int steps = ts.length - 1;
      listener.onPhaseStart(GenerationListener.DENOISE);
      for (int k = 0; k < steps; k++) {
        if (listener.cancelled()) {
          throw new GenerationCancelledException(k);
        }
        long copiedBefore = l.blocks().bytesCopied();
        NDArray next;
        try (DeviceLedger.Booking act = ledger.reserve(activations, "dit activations");
            NDManager scope = NDManager.subManagerOf(img)) {
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
  private NDArray decode(Loaded l, NDArray img, int h, int w) {
    if (l.vae() != null) {
      return decode(l.plan(), l.vae(), img, h, w);
    }
    try (DeviceLedger.Booking weights = ledger.reserve(vaeBytes, "autoencoder staged");
        AutoEncoder vae = loadAutoEncoder()) {
      return decode(l.plan(), vae, img, h, w);
    }
  }

  private NDArray decode(ExecutionPlan plan, AutoEncoder vae, NDArray img, int h, int w) {
    long bytes =
        ActivationEstimates.vaeDecode(
            vaeParams, 1, 2 * h, 2 * w, plan.vaeTile(), target.dtype().getNumOfBytes());
    try (DeviceLedger.Booking act = ledger.reserve(bytes, "autoencoder decode");
        NDManager scope = NDManager.subManagerOf(img)) {
      scope.tempAttachAll(img);
      NDArray z = LatentPacking.unpack(img, h, w);
      NDArray decoded =
          plan.tiledDecode()
              ? vae.decodeTiled(z, plan.vaeTile(), plan.attentionChunk())
              : vae.decode(z);
      return scope.ret(decoded.toType(DataType.FLOAT32, false).clip(-1f, 1f));
    }
  }

  /** Arrays still alive from jobs: zero between jobs unless something leaks. */
  public int liveJobArrays() {
    return jobs.getManagedArrays().size();
  }

  private static void trace(GenerationListener listener, String name, NDArray value) {
    if (listener.wantsTensors()) {
      listener.onTensor(name, value);
    }
  }

  @Override
  public synchronized void close() {
    closeQuietly(jobs, loaded, ditStore);
    loaded = null;
  }

  private static void closeQuietly(AutoCloseable... resources) {
    for (AutoCloseable r : resources) {
      if (r != null) {
        try {
          r.close();
        } catch (Exception ignored) {
          // closing the rest matters more than one failure to close
        }
      }
    }
  }
}
