package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDManager;
import dev.fleet.engine.flux.AttentionKernel;
import dev.fleet.engine.flux.ChunkedAttention;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.Residency;
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
 * <p>The plans come as a list, fastest first, and a {@link PlanLadder} (shared by every model
 * family) loads the first that fits and falls back to the next when a job runs out of memory; what
 * is FLUX's here is what one plan loads ({@link LoadedPlan}) and how one job runs ({@link
 * PlanRun}).
 */
public final class PlannedPipeline implements GenerationPipeline {
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
  private final FluxDims plannerDims;

  /** Parent of every job's manager: what is left under it after a job is a leak. */
  private final NDManager jobs;

  /** Runs one job under whatever plan is loaded. */
  private final PlanRun runner;

  /** The plans and the fallback between them, over FLUX's stages. */
  private final PlanLadder<LoadedPlan> ladder;

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
    this.t5Length = FluxDims.defaultTextTokens(params.dims());
    this.jobs = NDManager.newBaseManager(target.device());
    this.plannerDims = ModelDimsReader.read(model);
    this.runner = new PlanRun(model, target, params, plannerDims, vaeBytes, ledger, options, jobs);
    this.ladder = new PlanLadder<>(plans, PlanStages.of(this::loadPlan, runner::run), options);
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
    long budget = PlanLadder.budgetOf(plans);
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
      pipeline.ladder.loadFirst();
      return pipeline;
    } catch (RuntimeException e) {
      if (pipeline != null) {
        pipeline.close();
      } else {
        Resources.closeQuietly(store);
      }
      throw e;
    }
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
                        plan.residentDoubleBlocks(params.dims().depth()),
                        plan.residentSingleBlocks(params.dims().depthSingleBlocks()),
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
      Resources.closeQuietly(vae, vaeBooking, text, dit, ditBooking);
      throw e;
    }
  }

  /** Where the model was loaded from. */
  public ModelDirectory model() {
    return model;
  }

  @Override
  public String modelName() {
    return model.name();
  }

  public ComputeTarget target() {
    return target;
  }

  public FluxParams params() {
    return params;
  }

  @Override
  public ExecutionPlan currentPlan() {
    return ladder.loaded().plan();
  }

  @Override
  public DeviceLedger ledger() {
    return ledger;
  }

  /** BFL's: 28 steps at guidance 3.5 for a guidance-distilled (dev) model, 4 for schnell. */
  @Override
  public SamplingDefaults defaults() {
    return params.dims().guidanceEmbed()
        ? new SamplingDefaults(28, 3.5, "guidance-distilled")
        : new SamplingDefaults(4, 0, "schnell");
  }

  @Override
  public DitLinears loraTargets() {
    return DitLinears.of(params);
  }

  public PromptEmbeddingCache embeddingCache() {
    return options.embeddingCache();
  }

  /** The loaded text stage (tests count its encoder runs). */
  TextStage textStage() {
    return ladder.loaded().text();
  }

  /**
   * Host-to-device bytes of one streamed T5 encode under the current plan (0 unless T5 streams).
   */
  public long t5BytesPerEncode() {
    return ladder.loaded().text().t5BytesPerEncode();
  }

  /** Host-to-device bytes of one forward pass under the current plan. */
  public long streamedBytesPerStep() {
    return ladder.loaded().blocks().streamedBytesPerPass();
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
  @Override
  public synchronized PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras) {
    // Synchronized with close(): a job ends before the pipeline's managers close.
    return ladder.generate(spec, noise, listener, loras);
  }

  @Override
  public int liveJobArrays() {
    return jobs.getManagedArrays().size();
  }

  @Override
  public synchronized void close() {
    Resources.closeQuietly(jobs, ladder, ditStore);
  }
}
