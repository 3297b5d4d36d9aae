package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.lora.DeviceAdapters;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.memory.BookedScope;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.text.ClipTextModel;
import dev.fleet.engine.text.StreamedT5Encoder;
import dev.fleet.engine.text.T5Encoder;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.Residency;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Prompt to conditioning under a memory plan: a {@link PromptEmbeddingCache} hit skips the text
 * encoders altogether; a miss runs T5 and CLIP, which either stay loaded (T5 {@link
 * Residency#RESIDENT}), are loaded for the encode and released before the DiT runs ({@link
 * Residency#STAGED}), or, T5 {@link Residency#STREAMED}, CLIP is staged and T5 is kept in host
 * memory, its head put on the device for the encode and its blocks streamed one at a time (see
 * {@link StreamedT5Encoder}). Encoder weights and their activations are booked in the ledger while
 * they exist (a streamed T5 books its own). The tokenizers (host memory only) stay loaded.
 */
public final class TextStage implements AutoCloseable {

  /** A loaded encoder pair. */
  interface Encoders extends AutoCloseable {
    /** T5 (1, L, d_model) and CLIP pooled (1, C) in the compute dtype, owned by {@code manager}. */
    TextEmbeddings encode(long[] t5Ids, long[] clipIds, NDManager manager);

    /** As {@link #encode(long[], long[], NDManager)} with the CLIP updates of {@code loras}. */
    default TextEmbeddings encode(
        long[] t5Ids, long[] clipIds, LoraStack loras, NDManager manager) {
      if (loras.adaptsClip()) {
        throw new UnsupportedOperationException("these encoders take no text-encoder LoRA");
      }
      return encode(t5Ids, clipIds, manager);
    }

    @Override
    void close();
  }

  private final PromptTokenizer clipTokenizer;
  private final PromptTokenizer t5Tokenizer;
  private final Supplier<Encoders> loader;
  private final long encoderBytes;
  private final long activationBytes;
  private final Residency t5;
  private final StreamedT5Encoder streamedT5;
  private final PromptEmbeddingCache cache;
  private final String identity;
  private final ComputeTarget target;
  private final DeviceLedger ledger;
  private final AtomicInteger loads = new AtomicInteger();
  private final AtomicInteger runs = new AtomicInteger();
  private final AtomicLong bytesStreamed = new AtomicLong();
  private Encoders resident;
  private DeviceLedger.Booking residentBooking;

  TextStage(
      PromptTokenizer clipTokenizer,
      PromptTokenizer t5Tokenizer,
      Supplier<Encoders> loader,
      long encoderBytes,
      long activationBytes,
      Residency t5,
      StreamedT5Encoder streamedT5,
      PromptEmbeddingCache cache,
      String identity,
      ComputeTarget target,
      DeviceLedger ledger) {
    this.clipTokenizer = clipTokenizer;
    this.t5Tokenizer = t5Tokenizer;
    this.loader = loader;
    this.encoderBytes = encoderBytes;
    this.activationBytes = activationBytes;
    this.t5 = t5;
    this.streamedT5 = streamedT5;
    this.cache = cache;
    this.identity = identity;
    this.target = target;
    this.ledger = ledger;
    if (t5 == Residency.RESIDENT) {
      residentBooking = ledger.reserve(encoderBytes, "text encoders resident");
      try {
        resident = load();
      } catch (RuntimeException e) {
        residentBooking.close();
        throw e;
      }
    }
  }

  /**
   * The text stage of a model directory in the FLUX.1-dev layout.
   *
   * @param t5Length the T5 length when {@code tokenizer_2/tokenizer.json} carries none
   * @param t5 resident (both encoders stay loaded), staged (both loaded per encode) or streamed
   *     (CLIP loaded per encode, T5 kept in host memory and streamed block by block)
   * @param hostToDevice how a streamed T5's host copies reach the device
   * @param dims the model as the memory planner sees it, and {@code engine} how it runs: the
   *     encoders' activations are booked as the planner counts them
   * @throws dev.fleet.engine.memory.BudgetExceededException when resident encoders do not fit
   */
  public static TextStage load(
      ModelDirectory model,
      int t5Length,
      ComputeTarget target,
      Residency t5,
      PromptEmbeddingCache cache,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      FluxDims dims,
      EngineProfile engine) {
    PromptTokenizer clipTokenizer = null;
    PromptTokenizer t5Tokenizer = null;
    StreamedT5Encoder streamedT5 = null;
    try {
      clipTokenizer = PromptTokenizer.clip(model.clipTokenizer());
      t5Tokenizer = PromptTokenizer.t5(model.t5Tokenizer(), t5Length);
      int dtypeBytes = target.dtype().getNumOfBytes();
      long clipBytes = ParameterBytes.of(model.clipWeights(), dtypeBytes);
      long bytes =
          t5 == Residency.STREAMED
              ? clipBytes
              : clipBytes + ParameterBytes.of(model.t5Weights(), dtypeBytes);
      int side = dims.pixelsPerToken();
      long activations =
          ActivationEstimates.textEncode(
              ActivationEstimates.model(dims, side, side, engine), dtypeBytes);
      String identity =
          model.clipWeights().describe()
              + "|"
              + model.t5Weights().describe()
              + "|"
              + target.dtype();
      Supplier<Encoders> loader;
      if (t5 == Residency.STREAMED) {
        StreamedT5Encoder host = model.loadStreamedT5(target, ledger, hostToDevice);
        streamedT5 = host;
        loader = () -> LoadedEncoders.load(() -> model.loadClip(target), host::onDevice, target);
      } else {
        loader =
            () ->
                LoadedEncoders.load(
                    () -> model.loadClip(target), () -> model.loadT5(target), target);
      }
      return new TextStage(
          clipTokenizer,
          t5Tokenizer,
          loader,
          bytes,
          activations,
          t5,
          streamedT5,
          cache,
          identity,
          target,
          ledger);
    } catch (RuntimeException e) {
      if (streamedT5 != null) {
        streamedT5.close();
      }
      if (t5Tokenizer != null) {
        t5Tokenizer.close();
      }
      if (clipTokenizer != null) {
        clipTokenizer.close();
      }
      throw e;
    }
  }

  private Encoders load() {
    loads.incrementAndGet();
    return loader.get();
  }

  /**
   * The conditioning of {@code prompt} on {@code job}'s device in the compute dtype, owned by
   * {@code job}: from the cache when it holds it, else from the encoders (then cached).
   */
  public TextEmbeddings embed(String prompt, NDManager job) {
    return embed(prompt, job, LoraStack.NONE);
  }

  /**
   * The conditioning of {@code prompt} under the CLIP text-encoder updates of {@code loras} (their
   * DiT updates play no part here): cached by the LoRAs' names, strengths and values as well as the
   * prompt, so a conditioning without LoRA is never served to a job with one, nor the reverse.
   */
  public TextEmbeddings embed(String prompt, NDManager job, LoraStack loras) {
    String clipLoras = loras.clipIdentity();
    PromptEmbeddingCache.Key key =
        new PromptEmbeddingCache.Key(
            clipLoras.isEmpty() ? identity : identity + "|clip-lora " + clipLoras,
            prompt,
            t5Tokenizer.maxLength(),
            clipTokenizer.maxLength());
    HostEmbeddings host = cache.get(key);
    if (host == null) {
      host = encode(prompt, job, loras);
      cache.put(key, host);
    }
    return host.toDevice(job, target.dtype());
  }

  private HostEmbeddings encode(String prompt, NDManager job, LoraStack loras) {
    long[] t5Ids = t5Tokenizer.encode(prompt);
    long[] clipIds = clipTokenizer.encode(prompt);
    boolean staged = t5 != Residency.RESIDENT;
    DeviceLedger.Booking weights =
        staged
            ? ledger.reserve(
                encoderBytes, t5 == Residency.STREAMED ? "clip staged" : "text encoders staged")
            : null;
    long copiedBefore = streamedT5 != null ? streamedT5.bytesCopied() : 0;
    try {
      Encoders encoders = staged ? load() : resident;
      long loraBytes = loras.clipDeviceBytes(target.dtype().getNumOfBytes());
      try (BookedScope scope =
              ledger.scope(job, target.device(), activationBytes, "text activations");
          DeviceLedger.Booking side = ledger.reserve(loraBytes, "clip lora adapters");
          TextEmbeddings out = encoders.encode(t5Ids, clipIds, loras, scope.manager())) {
        runs.incrementAndGet();
        return HostEmbeddings.of(out);
      } finally {
        if (staged) {
          encoders.close();
        }
      }
    } finally {
      if (weights != null) {
        weights.close();
      }
      if (streamedT5 != null) {
        bytesStreamed.addAndGet(streamedT5.bytesCopied() - copiedBefore);
      }
    }
  }

  /** Where T5 lives (CLIP is resident with a resident T5, staged otherwise). */
  public Residency t5() {
    return t5;
  }

  /**
   * Host-to-device bytes of the streamed T5 so far (its head and blocks, once per encode); 0 unless
   * T5 streams. A cache hit adds nothing.
   */
  public long t5BytesStreamed() {
    return bytesStreamed.get();
  }

  /** Host-to-device bytes of one streamed T5 encode, 0 unless T5 streams. */
  public long t5BytesPerEncode() {
    return streamedT5 != null ? streamedT5.bytesPerEncode() : 0;
  }

  /**
   * Device bytes this stage books for the encoders it loads: both when T5 is resident or staged,
   * CLIP alone when T5 streams (the streamed T5 books its head and blocks itself).
   */
  public long encoderBytes() {
    return encoderBytes;
  }

  /** Times the encoders were loaded (once when resident, once per cache miss when staged). */
  public int encoderLoads() {
    return loads.get();
  }

  /** Times the encoders ran (once per cache miss). */
  public int encoderRuns() {
    return runs.get();
  }

  public int t5Length() {
    return t5Tokenizer.maxLength();
  }

  @Override
  public void close() {
    try {
      if (resident != null) {
        resident.close();
        resident = null;
      }
    } finally {
      if (residentBooking != null) {
        residentBooking.close();
        residentBooking = null;
      }
      if (streamedT5 != null) {
        streamedT5.close();
      }
      t5Tokenizer.close();
      clipTokenizer.close();
    }
  }

  /**
   * T5 and CLIP read from their directories, as {@link dev.fleet.engine.text.TextEmbedder} does.
   */
  private record LoadedEncoders(ClipTextModel clip, T5Encoder t5, ComputeTarget target)
      implements Encoders {

    static LoadedEncoders load(
        Supplier<ClipTextModel> clipLoader, Supplier<T5Encoder> t5, ComputeTarget target) {
      ClipTextModel clip = clipLoader.get();
      try {
        return new LoadedEncoders(clip, t5.get(), target);
      } catch (RuntimeException e) {
        clip.close();
        throw e;
      }
    }

    @Override
    public TextEmbeddings encode(long[] t5Ids, long[] clipIds, NDManager manager) {
      return encode(t5Ids, clipIds, LoraStack.NONE, manager);
    }

    @Override
    public TextEmbeddings encode(long[] t5Ids, long[] clipIds, LoraStack loras, NDManager manager) {
      try (NDManager scope = manager.newSubManager(target.device())) {
        NDArray txt = t5.forward(scope.create(t5Ids, new Shape(1, t5Ids.length))); // (1, L, D)
        Adapters adapters =
            loras.adaptsClip()
                ? DeviceAdapters.buildClip(loras, clip.config(), target.dtype(), scope).orNone()
                : Adapters.NONE;
        NDArray pooled =
            clip.forward(scope.create(clipIds, new Shape(1, clipIds.length)), adapters)
                .pooledOutput();
        txt.attach(manager);
        pooled.attach(manager);
        return new TextEmbeddings(txt, pooled);
      }
    }

    @Override
    public void close() {
      try {
        t5.close();
      } finally {
        clip.close();
      }
    }
  }
}
