package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.image.PngEncoder;
import dev.fleet.engine.lora.AppliedLora;
import dev.fleet.engine.lora.DeviceAdapters;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.BookedScope;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GeneratedImage;
import dev.fleet.engine.pipeline.GenerationCancelledException;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.pipeline.HostEmbeddings;
import dev.fleet.engine.pipeline.PlanEvent;
import dev.fleet.engine.pipeline.PlanLadder;
import dev.fleet.engine.pipeline.PlanStages;
import dev.fleet.engine.pipeline.PlannedGeneration;
import dev.fleet.engine.pipeline.PromptEmbeddingCache;
import dev.fleet.engine.pipeline.Resources;
import dev.fleet.engine.pipeline.SamplingDefaults;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.sampling.TorchNoise;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.NewbieMemoryModel;
import dev.fleet.model.memory.Residency;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.Workload;
import java.util.List;
import java.util.Map;

/**
 * NewBie-image text-to-image under a memory budget: the components of {@link NewbiePipeline}, run
 * under an {@link ExecutionPlan} with every device allocation booked in a {@link DeviceLedger} by
 * the figures of {@link NewbieMemoryModel} (weights by their parameter counts, activations by its
 * formulas), and the plans falling back through the shared {@link PlanLadder}.
 *
 * <p>What one plan can change: the text encoders resident for the pipeline's lifetime, or staged —
 * Gemma loaded for its phase and freed before Jina is loaded, Jina freed before the DiT runs — or
 * Gemma streamed (its embedding on the device for its phase, each layer read for its own call),
 * Gemma's layer matrices in 16 bits or in float8 (narrowed to e4m3fn when loaded, kept as bytes in
 * the shared {@link BlockStore} and widened layer by layer, as the DiT's blocks are); the
 * autoencoder resident or loaded for the decode, the decode whole or in tiles; the Next-DiT's
 * embedders, context refiner and final layer resident, its first K noise-refiner and joint blocks
 * resident and the others streamed from host memory for their call (the shared {@link BlockStore},
 * as FLUX's blocks), its block matrices in 16 bits or float8 (an fp8 checkpoint's as stored, a
 * 16/32-bit one's narrowed to e4m3fn when loaded), float8 widened per block; attention over all
 * query rows at once or in the plan's chunks of rows. So it runs every plan the planner makes.
 *
 * <p>A job's LoRA adapters are side paths beside the Next-DiT's linear layers ({@link
 * DeviceAdapters}, as FLUX's), built on the device in the compute dtype for the job and booked in
 * the ledger: float8 blocks are widened first and the side path added to the widened layer's
 * output, so an adapter is never narrowed to float8 and no weight is changed.
 *
 * <p>A job's text embeddings are computed once, in the text phase, and held through denoising; they
 * are kept on the host across jobs in the options' {@link PromptEmbeddingCache} (bounded, shared
 * with FLUX's), so a job with the same prompt and negative prompt loads no text encoder.
 */
public final class PlannedNewbiePipeline implements GenerationPipeline {

  /** NewBie's norm clamp of the guided velocity (its demo's {@code renorm_cfg}). */
  public static final float RENORM_CFG = 1f;

  /** NewBie's time-shifting factor of the sampling grid. */
  public static final float TIME_SHIFT = 6f;

  /** Model time from which the unconditional pass is skipped when a job names none: never. */
  public static final float CFG_TRUNCATION = 1f;

  /** NewBie's demo: 28 steps at classifier-free guidance 5. */
  public static final SamplingDefaults DEFAULTS =
      new SamplingDefaults(28, 5.0, "classifier-free guidance");

  private final NewbieDirectory model;
  private final ComputeTarget target;
  private final DeviceLedger ledger;
  private final NewbieDims dims;
  private final NextDitParams params;

  /** How the blocks sit on the device: what the planner sized them by. */
  private final StorageType blockStorage;

  private final NewbieTokenizer gemmaTokenizer;
  private final NewbieTokenizer jinaTokenizer;
  private final ExecutionOptions options;

  /** What the cached embeddings depend on besides the texts: the model and the compute dtype. */
  private final String cacheIdentity;

  /** Parent of every job's manager: what is left under it after a job is a leak. */
  private final NDManager jobs;

  private final PlanLadder<LoadedPlan> ladder;

  /**
   * What one plan keeps on the device.
   *
   * @param text null when the plan stages the text encoders
   * @param vae null when the plan stages the autoencoder
   */
  record LoadedPlan(
      ExecutionPlan plan,
      TensorStore ditStore,
      NextDitTransformer dit,
      DeviceLedger.Booking ditBooking,
      Encoders text,
      AutoEncoder vae,
      DeviceLedger.Booking vaeBooking)
      implements PlanStages.Loaded {
    @Override
    public void cancelPrefetch() {
      dit.cancelPrefetch();
    }

    @Override
    public void close() {
      Resources.closeQuietly(text, vae, vaeBooking, dit, ditBooking, ditStore);
    }
  }

  /** Both text encoders on the device, with their bookings. */
  record Encoders(
      Gemma3TextEncoder gemma,
      DeviceLedger.Booking gemmaBooking,
      JinaTextTower jina,
      DeviceLedger.Booking jinaBooking)
      implements AutoCloseable {
    @Override
    public void close() {
      Resources.closeQuietly(gemma, gemmaBooking, jina, jinaBooking);
    }
  }

  private PlannedNewbiePipeline(
      NewbieDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      NewbieDims dims,
      StorageType blockStorage,
      NewbieTokenizer gemmaTokenizer,
      NewbieTokenizer jinaTokenizer) {
    this.model = model;
    this.target = target;
    this.options = options;
    this.cacheIdentity =
        "newbie " + model.root().toAbsolutePath().normalize() + " " + target.dtype();
    this.ledger = new DeviceLedger(PlanLadder.budgetOf(plans));
    this.dims = dims;
    this.blockStorage = blockStorage;
    this.params = model.transformerParams();
    this.gemmaTokenizer = gemmaTokenizer;
    this.jinaTokenizer = jinaTokenizer;
    this.jobs = NDManager.newBaseManager(target.device());
    this.ladder = new PlanLadder<>(plans, PlanStages.of(this::loadPlan, this::runJob), options);
  }

  /**
   * Loads a NewBie model under the first of {@code plans} it can run and that fits, its blocks
   * stored as the checkpoint stores them ({@link NewbieDirectory#blockStorage}).
   *
   * @param plans fastest first, all with the same budget
   * @throws dev.fleet.engine.memory.BudgetExceededException when not even the last plan's resident
   *     weights fit
   */
  public static PlannedNewbiePipeline load(
      NewbieDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options) {
    return load(model, target, plans, options, model.blockStorage());
  }

  /**
   * As {@link #load(NewbieDirectory, ComputeTarget, List, ExecutionOptions)}, with the blocks
   * stored as {@code blockStorage} says — the storage the plans were made for: {@link
   * StorageType#FP8} narrows a 16- or 32-bit checkpoint's block matrices to e4m3fn (a per-tensor
   * scale each) when they are loaded.
   *
   * @throws IllegalArgumentException when {@code blockStorage} is FP16 for an fp8 checkpoint (its
   *     blocks are not widened when loaded), or neither FP8 nor FP16
   */
  public static PlannedNewbiePipeline load(
      NewbieDirectory model,
      ComputeTarget target,
      List<ExecutionPlan> plans,
      ExecutionOptions options,
      StorageType blockStorage) {
    if (blockStorage != StorageType.FP8 && blockStorage != StorageType.FP16) {
      throw new IllegalArgumentException(
          "NewBie-image's blocks are stored as fp8 or fp16, got " + blockStorage);
    }
    if (blockStorage == StorageType.FP16 && model.blockStorage() == StorageType.FP8) {
      throw new IllegalArgumentException(
          "fp16 block storage asked for an fp8 checkpoint ("
              + model.transformer()
              + "): its blocks stay fp8; plan for fp8");
    }
    NewbieDims dims = model.dims();
    NewbieTokenizer gemmaTokenizer = null;
    NewbieTokenizer jinaTokenizer = null;
    PlannedNewbiePipeline pipeline = null;
    try {
      gemmaTokenizer = NewbieTokenizer.gemma(model.tokenizer());
      jinaTokenizer = NewbieTokenizer.jina(model.clipTokenizer());
      pipeline =
          new PlannedNewbiePipeline(
              model, target, plans, options, dims, blockStorage, gemmaTokenizer, jinaTokenizer);
      pipeline.ladder.loadFirst();
      return pipeline;
    } catch (RuntimeException e) {
      if (pipeline != null) {
        pipeline.close();
      } else {
        Resources.closeQuietly(gemmaTokenizer, jinaTokenizer);
      }
      throw e;
    }
  }

  private LoadedPlan loadPlan(ExecutionPlan plan) {
    // The blocks are booked by their store, block by block, as they are placed.
    DeviceLedger.Booking ditBooking =
        ledger.reserve(
            dims.nextDit().nonBlockParams() * dtypeBytes(), "dit embedders, context refiner, head");
    TensorStore store = null;
    NextDitTransformer dit = null;
    Encoders text = null;
    AutoEncoder vae = null;
    DeviceLedger.Booking vaeBooking = null;
    try {
      // Open for the plan's lifetime: on the CPU the streamed blocks' host copies may alias it.
      store = TensorStore.open(model.transformer());
      dit =
          NextDitTransformer.load(
              NextDitTransformer.weightsOf(store, target),
              params,
              plan.residentSingleBlocks(dims.dit().depthSingleBlocks()),
              ledger,
              options.hostToDevice(),
              options.widener(),
              blockStorage == StorageType.FP8
                  ? BlockStore.Float8.NARROW
                  : BlockStore.Float8.AS_STORED,
              plan.attentionChunk());
      dit.manager().cap();
      if (plan.t5() == Residency.RESIDENT) {
        DeviceLedger.Booking g =
            ledger.reserve(
                plan.t5Storage() == StorageType.FP8 ? gemmaEmbeddingBytes() : gemmaBytes(),
                "gemma resident");
        Gemma3TextEncoder gemma = openGemma(plan, Residency.RESIDENT, g);
        DeviceLedger.Booking j = ledger.reserve(jinaBytes(), "jina resident");
        text = new Encoders(gemma, g, loadJina(j), j);
      }
      if (plan.autoencoder() == Residency.RESIDENT) {
        vaeBooking = ledger.reserve(autoencoderBytes(), "autoencoder resident");
        vae = loadVae();
      }
      return new LoadedPlan(plan, store, dit, ditBooking, text, vae, vaeBooking);
    } catch (RuntimeException e) {
      Resources.closeQuietly(text, vae, vaeBooking, dit, ditBooking, store);
      throw e;
    }
  }

  /**
   * Gemma as the plan holds it: in the compute dtype loaded whole or streamed layer by layer
   * ({@code booking} holds all of its weights on the device, or its embedding and two layers), or
   * with its layer matrices in float8 in a block store that books the layers itself ({@code
   * booking} holds the embedding).
   */
  private Gemma3TextEncoder openGemma(
      ExecutionPlan plan, Residency residency, DeviceLedger.Booking booking) {
    boolean streamed = residency == Residency.STREAMED;
    try {
      if (plan.t5Storage() == StorageType.FP8) {
        return Gemma3TextEncoder.float8(
            model.textEncoder(),
            target,
            streamed,
            ledger,
            options.hostToDevice(),
            options.widener());
      }
      return streamed
          ? Gemma3TextEncoder.stream(model.textEncoder(), target)
          : Gemma3TextEncoder.load(model.textEncoder(), target);
    } catch (RuntimeException e) {
      booking.close();
      throw e;
    }
  }

  private JinaTextTower loadJina(DeviceLedger.Booking booking) {
    try {
      return JinaTextTower.load(model.clipModel(), target);
    } catch (RuntimeException e) {
      booking.close();
      throw e;
    }
  }

  private AutoEncoder loadVae() {
    try (TensorStore store = TensorStore.open(model.vae())) {
      return AutoEncoder.load(store, AutoEncoderParams.infer(store, model.vaeConfig()), target);
    }
  }

  /** The request NewBie's components take, from a job and NewBie's defaults. */
  static NewbieRequest request(GenerationSpec spec) {
    return new NewbieRequest(
        spec.prompt(),
        spec.negativePrompt(),
        NewbieRequest.SYSTEM_PROMPT,
        spec.seed(),
        spec.width(),
        spec.height(),
        spec.steps(),
        (float) spec.guidance(),
        spec.cfgTruncation() != null ? spec.cfgTruncation().floatValue() : CFG_TRUNCATION,
        RENORM_CFG,
        TIME_SHIFT);
  }

  private PlannedGeneration runJob(
      LoadedPlan l,
      GenerationSpec spec,
      float[] noise,
      GenerationListener listener,
      List<PlanEvent> events,
      LoraStack loras) {
    NewbieRequest request = request(spec);
    NewbieMemoryModel memory = memoryModel(spec.width(), spec.height(), l.plan().t5Storage());
    int f = dims.autoencoder().downscale();
    Shape latentShape = new Shape(1, params.inChannels(), spec.height() / f, spec.width() / f);
    float[] initial = TorchNoise.initial(noise, spec.seed(), latentShape);
    ledger.resetPeak();
    DitLinears linears = loraTargets();
    for (AppliedLora lora : loras.loras()) {
      linears.check(lora.adapter()); // before any encoder runs
    }
    // The side paths' factors, and their (tokens, rank) intermediate beside the activations.
    long loraBytes =
        loras.deviceBytes(linears, dtypeBytes())
            + (long) dtypeBytes() * loras.widestRank() * memory.denoiserBatch() * memory.tokens();
    try (NDManager job = jobs.newSubManager();
        BookedScope loraScope = ledger.scope(job, loraBytes, "lora adapters")) {
      Adapters adapters =
          DeviceAdapters.build(loras, linears, target.dtype(), loraScope.manager()).orNone();
      listener.onPhaseStart(GenerationListener.TEXT);
      NDArray[] text = encode(l, request, memory, job);
      if (listener.cancelled()) {
        throw new GenerationCancelledException(0);
      }
      listener.onPhaseStart(GenerationListener.DENOISE);
      // The denoising loop's state beyond the job's latents (text embeddings, sequences, RoPE)
      // and the largest block computing. A streamed block's copy and a float8 block's widened
      // weights are booked by the block store for the block's call.
      long working =
          memory.denoiseStateBytes()
              - memory.jobStateBytes()
              - memory.adapterBytes()
              + memory.forwardActivationBytes(l.plan().attentionChunk());
      try (DeviceLedger.Booking state =
          ledger.reserve(scaled(memory.jobStateBytes()), "job latents")) {
        NDArray latents;
        try (BookedScope denoise = ledger.scope(job, scaled(working), "dit working")) {
          NDArray z = denoise.manager().create(initial, latentShape);
          trace(listener, "pipe.noise", z);
          EulerSampler sampler =
              new EulerSampler(
                  request.steps(),
                  request.timeShift(),
                  new GuidedVelocity(request.cfgScale(), request.cfgTrunc(), request.renormCfg()));
          int steps = request.steps();
          NDArray sampled =
              sampler.sample(
                  l.dit(),
                  z,
                  text[0],
                  text[1],
                  text[2],
                  adapters,
                  (k, lat, velocity, applied) -> {
                    trace(listener, "pipe.latents.step" + k, lat);
                    listener.onStep(k, steps);
                    if (k < steps && listener.cancelled()) {
                      throw new GenerationCancelledException(k);
                    }
                  });
          latents = denoise.manager().ret(sampled);
        }
        for (NDArray a : text) {
          a.close();
        }
        listener.onPhaseStart(GenerationListener.DECODE);
        NDArray pixels = decode(l, latents, memory); // (1, 3, H, W) float32, unclamped
        trace(listener, "pipe.decoded", pixels);
        byte[] rgb = NewbiePipeline.toRgb(pixels.toFloatArray(), spec.width(), spec.height());
        Map<String, String> pngText = NewbiePipeline.pngText(request);
        pngText.put("model", spec.model());
        if (!spec.loras().isEmpty()) {
          pngText.put("loras", spec.lorasText());
        }
        byte[] png = PngEncoder.encode(rgb, spec.width(), spec.height(), pngText);
        return new PlannedGeneration(
            new GeneratedImage(spec, spec.width(), spec.height(), rgb, png),
            l.plan(),
            events,
            new long[spec.steps()],
            0,
            ledger.peakBytes(),
            ledger.budgetBytes(),
            ledger.bookingsAtPeak());
      }
    }
  }

  /**
   * The text phase: the job's embeddings from the options' {@link PromptEmbeddingCache} when a job
   * with the same texts (prompt and negative prompt, with Gemma's system prompt) computed them
   * before, else from the encoders, then kept there. A hit loads no encoder: it books and copies
   * the embeddings to the device (what the encoders' output would take) and rebuilds the caption
   * mask from the tokenizer, which is all the mask depends on.
   *
   * @return {cap_feats, cap_mask, pooled} on {@code job}
   */
  private NDArray[] encode(
      LoadedPlan l, NewbieRequest request, NewbieMemoryModel memory, NDManager job) {
    PromptEmbeddingCache cache = options.embeddingCache();
    PromptEmbeddingCache.Key key =
        new PromptEmbeddingCache.Key(
            cacheIdentity,
            String.join("\u0000", request.gemmaTexts())
                + "\u0001"
                + String.join("\u0000", request.jinaTexts()),
            NewbieTokenizer.GEMMA_MAX_LENGTH,
            NewbieTokenizer.JINA_MAX_LENGTH);
    HostEmbeddings cached = cache.get(key);
    if (cached != null) {
      try (DeviceLedger.Booking held =
          ledger.reserve(cached.deviceBytes(target.dtype()), "cached text embeddings")) {
        TextEmbeddings e = cached.toDevice(job, target.dtype());
        NDArray mask = gemmaTokenizer.encode(List.of(request.gemmaTexts())).maskArray(job);
        return new NDArray[] {e.t5(), mask, e.clipPooled()};
      }
    }
    NDArray[] text = encodeWithEncoders(l, request, memory, job);
    cache.put(key, HostEmbeddings.of(new TextEmbeddings(text[0], text[2])));
    return text;
  }

  /**
   * Gemma's caption features, then Jina's pooled vectors, each encoder loaded for its phase and
   * freed after it when the plan stages them.
   *
   * @return {cap_feats, cap_mask, pooled} on {@code job}
   */
  private NDArray[] encodeWithEncoders(
      LoadedPlan l, NewbieRequest request, NewbieMemoryModel memory, NDManager job) {
    Encoders resident = l.text();
    Residency gemma = l.plan().t5();
    // float8 layers are booked by their store, layer by layer: only the embedding is booked here.
    long gemmaBooked =
        l.plan().t5Storage() == StorageType.FP8
            ? gemmaEmbeddingBytes()
            : scaled(memory.gemmaWeightBytes(gemma));
    NDArray[] caption;
    try (DeviceLedger.Booking staged =
            resident == null ? ledger.reserve(gemmaBooked, "gemma " + gemma.label()) : null;
        Gemma3TextEncoder own = resident == null ? openGemma(l.plan(), gemma, staged) : null;
        DeviceLedger.Booking act =
            ledger.reserve(scaled(memory.gemmaActivationBytes()), "gemma activations")) {
      caption =
          NewbieText.caption(gemmaTokenizer, own != null ? own : resident.gemma(), request, job);
    }
    try (DeviceLedger.Booking held =
            ledger.reserve(scaled(memory.gemmaOutputBytes()), "caption features");
        DeviceLedger.Booking staged =
            resident == null ? ledger.reserve(jinaBytes(), "jina staged") : null;
        JinaTextTower own = resident == null ? loadJina(staged) : null;
        DeviceLedger.Booking act =
            ledger.reserve(scaled(memory.jinaActivationBytes()), "jina activations")) {
      NDArray pooled =
          NewbieText.pooled(jinaTokenizer, own != null ? own : resident.jina(), request, job);
      return new NDArray[] {caption[0], caption[1], pooled};
    }
  }

  /** The decode, with the autoencoder loaded for it (and freed after) when it is staged. */
  private NDArray decode(LoadedPlan l, NDArray latents, NewbieMemoryModel memory) {
    if (l.vae() != null) {
      return decode(l.plan(), l.vae(), latents, memory);
    }
    try (DeviceLedger.Booking weights = ledger.reserve(autoencoderBytes(), "autoencoder staged");
        AutoEncoder vae = loadVae()) {
      return decode(l.plan(), vae, latents, memory);
    }
  }

  private NDArray decode(
      ExecutionPlan plan, AutoEncoder vae, NDArray latents, NewbieMemoryModel memory) {
    long bytes =
        memory.decodeActivationBytes(PlanMapping.decodeTilePixels(plan.vaeTile()), dtypeBytes());
    try (BookedScope decode = ledger.scope(latents.getManager(), bytes, "autoencoder decode")) {
      NDManager scope = decode.manager();
      scope.tempAttachAll(latents);
      NDArray decoded =
          plan.tiledDecode() ? vae.decodeTiled(latents, plan.vaeTile(), 0) : vae.decode(latents);
      return scope.ret(decoded.toType(DataType.FLOAT32, false));
    }
  }

  /**
   * The planner's model of one job of this size with Gemma's matrices stored as {@code gemma},
   * under the profile of the kernels that run.
   */
  NewbieMemoryModel memoryModel(int width, int height, StorageType gemma) {
    return dims.memoryModel(
        new Workload(width, height, 1, blockStorage).withTextStorage(gemma),
        options.engineProfile());
  }

  /** The model's dimensions as the planner and the ledger see them. */
  public NewbieDims dims() {
    return dims;
  }

  private int dtypeBytes() {
    return target.dtype().getNumOfBytes();
  }

  private long gemmaBytes() {
    return dims.gemma().params() * dtypeBytes();
  }

  private long gemmaEmbeddingBytes() {
    return dims.gemma().embeddingParams() * dtypeBytes();
  }

  private long jinaBytes() {
    return dims.jina().params() * dtypeBytes();
  }

  private long autoencoderBytes() {
    return dims.autoencoder().params() * dtypeBytes();
  }

  /** A float16 count of the memory model in the compute dtype. */
  private long scaled(long float16Bytes) {
    return float16Bytes / 2 * dtypeBytes();
  }

  /**
   * Bytes of every array alive now on the pipeline's managers: the loaded plan's weights and the
   * running job's arrays (a measurement, beside the ledger's bookings).
   */
  public long liveBytes() {
    LoadedPlan l = ladder.loaded();
    long n =
        DeviceLedger.bytesOf(jobs)
            + DeviceLedger.bytesOf(l.dit().manager())
            + l.dit().blocks().residentArrayBytes();
    if (l.text() != null) {
      n += l.text().gemma().liveBytes();
      n += DeviceLedger.bytesOf(l.text().jina().manager());
    }
    if (l.vae() != null) {
      n += DeviceLedger.bytesOf(l.vae().manager());
    }
    return n;
  }

  private static void trace(GenerationListener listener, String name, NDArray value) {
    if (listener.wantsTensors()) {
      listener.onTensor(name, value);
    }
  }

  @Override
  public String modelName() {
    return model.name();
  }

  @Override
  public ExecutionPlan currentPlan() {
    return ladder.loaded().plan();
  }

  @Override
  public DeviceLedger ledger() {
    return ledger;
  }

  @Override
  public SamplingDefaults defaults() {
    return DEFAULTS;
  }

  /** The Next-DiT's linear layers (refiners, joint blocks, embedders, final layer). */
  @Override
  public DitLinears loraTargets() {
    return NextDitTransformer.loraLayers(params);
  }

  @Override
  public synchronized PlannedGeneration generate(
      GenerationSpec spec, float[] noise, GenerationListener listener, LoraStack loras) {
    return ladder.generate(spec, noise, listener, loras);
  }

  @Override
  public int liveJobArrays() {
    return jobs.getManagedArrays().size();
  }

  @Override
  public synchronized void close() {
    Resources.closeQuietly(jobs, ladder, gemmaTokenizer, jinaTokenizer);
  }
}
