package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDManager;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.MemoryFailure;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.TensorStore;
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
  private final long vaeBytes;

  /** The model as the memory planner sees it (read once): the ledger books by its figures. */
  private final ModelDims plannerDims;

  /** Parent of every job's manager: what is left under it after a job is a leak. */
  private final NDManager jobs;

  /** Runs one job under whatever plan is loaded. */
  private final PlanRun runner;

  private int planIndex = -1;
  private LoadedPlan loaded;

  private PlannedPipeline(
      ModelDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      DeviceLedger ledger,
      TensorStore ditStore,
      FluxParams params) {
    this.model = model;
    this.target = target;
    this.plans = plans;
    this.options = options;
    this.ledger = ledger;
    this.ditStore = ditStore;
    this.params = params;
    int dtypeBytes = target.dtype().getNumOfBytes();
    this.vaeBytes = ParameterBytes.of(model.vaeWeights(), dtypeBytes);
    this.ditOuterBytes =
        ParameterBytes.of(
            ditStore,
            n -> !n.startsWith("double_blocks.") && !n.startsWith("single_blocks."),
            dtypeBytes);
    this.t5Length = params.defaultT5Length();
    this.jobs = NDManager.newBaseManager(target.device());
    this.plannerDims = ModelDimsReader.read(model);
    this.runner = new PlanRun(model, target, params, plannerDims, vaeBytes, ledger, options, jobs);
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
          new PlannedPipeline(model, target, List.copyOf(plans), options, ledger, store, params);
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

  private LoadedPlan loadPlan(ExecutionPlan plan) {
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
              options.hostToDevice(),
              plannerDims,
              options.engineProfile());
      if (plan.autoencoder() == Residency.RESIDENT) {
        vaeBooking = ledger.reserve(vaeBytes, "autoencoder resident");
        vae = LoadedPlan.loadAutoEncoder(model, target);
      }
      return new LoadedPlan(plan, dit, blocks.get(), ditBooking, text, vae, vaeBooking);
    } catch (RuntimeException e) {
      closeQuietly(vae, vaeBooking, text, dit, ditBooking);
      throw e;
    }
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
      return runner.run(loaded, spec, noise, listener, events, loras);
    } catch (RuntimeException first) {
      if (!MemoryFailure.isMemoryFailure(first)) {
        throw first;
      }
      String from = loaded.plan().name();
      fallBack(events);
      event(events, PlanEvent.Kind.JOB_RETRIED, from, loaded.plan().name(), first);
      try {
        return runner.run(loaded, spec, noise, listener, events, loras);
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

  /** Arrays still alive from jobs: zero between jobs unless something leaks. */
  public int liveJobArrays() {
    return jobs.getManagedArrays().size();
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
