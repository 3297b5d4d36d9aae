package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.fleet.engine.checkpoint.ComponentWeights;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Gemma 3 as NewBie's caption encoder: transformers' {@code Gemma3TextModel} up to {@code
 * hidden_states[-2]}, the output of layer L−2 (the last layer and the final norm are never loaded).
 * Embeddings × √hidden; sliding-window layers see keys j with i − j &lt; window, full layers every
 * earlier key (their RoPE base and linear scaling differ); padding keys are hidden; positions 0 …
 * L−1 for every row (right padding). Rows whose mask is 0 come out as zeros.
 *
 * <p>Loaded resident ({@link #load}), every layer stays on the device; streamed ({@link #stream}),
 * only the embedding does, and each layer is read from the checkpoint (host memory: the mapped
 * file) onto the device for its own call and freed after it, so that at most one layer's weights
 * are on the device at a time. With its layer matrices in float8 ({@link #float8}), the layers sit
 * in a {@link BlockStore} as the DiT's blocks do: each matrix narrowed to e4m3fn with a per-tensor
 * scale when loaded (an fp8 checkpoint's kept as stored, with the per-tensor scales ComfyUI's
 * scaled float8 files carry, read as {@link ComponentWeights} reads them), held as bytes resident
 * or streamed, and widened on the device right before its layer's call. The embedding stays in the
 * compute dtype: it is gathered row by row, so a float8 table would need a widening of its own, per
 * row.
 */
public final class Gemma3TextEncoder implements AutoCloseable {
  /**
   * Key prefixes a Gemma 3 text model is found under: none ({@code Gemma3TextModel}); {@code
   * model.language_model.} (transformers' {@code Gemma3ForConditionalGeneration} as transformers
   * 4.52 and later save it); {@code language_model.model.} (the same class as google/gemma-3-4b-it
   * stores it, saved by earlier transformers); {@code language_model.} ({@code Gemma3Model}, what
   * {@code AutoModel} builds for a multimodal config, saved by transformers 4.52 and later); {@code
   * model.} ({@code Gemma3ForCausalLM}, ComfyUI). A multimodal file's {@code vision_tower.*} and
   * {@code multi_modal_projector.*} tensors (under {@code model.} or not) and its {@code lm_head}
   * are never read.
   */
  static final List<String> PREFIXES =
      List.of("", "model.language_model.", "language_model.model.", "language_model.", "model.");

  private final Gemma3Config config;
  private final NDManager manager;
  private final NDArray embedding;
  private final LayerSource layers;

  /** The float8 layers' store, or null when the layers are held in the compute dtype. */
  private final BlockStore stored;

  /** Where a call gets layer i from: resident on the device, or read for the call. */
  private interface LayerSource extends AutoCloseable {
    /** Layer i for one call. */
    BlockLease<Gemma3Layer> layer(int i);

    /** How many layers there are: L − 1. */
    int size();

    @Override
    void close();
  }

  private Gemma3TextEncoder(
      Gemma3Config config,
      NDManager manager,
      NDArray embedding,
      LayerSource layers,
      BlockStore stored) {
    this.config = config;
    this.manager = manager;
    this.embedding = embedding;
    this.layers = layers;
    this.stored = stored;
  }

  /**
   * Loads {@code dir/config.json} and the checkpoint in {@code dir} (the full-precision file, or
   * shards).
   */
  public static Gemma3TextEncoder load(Path dir, ComputeTarget target) {
    Gemma3Config config = Gemma3Config.read(dir);
    try (TensorStore store = ComponentWeights.of(CheckpointPaths.in(dir)).open()) {
      return load(new Weights(store, target), config);
    }
  }

  /**
   * Loads the embeddings and layers 0 … L−2 from a checkpoint under any of {@link #PREFIXES}. The
   * store may be closed afterwards.
   */
  public static Gemma3TextEncoder load(Weights weights, Gemma3Config config) {
    ParameterLoader scoped = prefixed(weights);
    NDManager m = NDManager.newBaseManager(weights.target().device());
    try {
      NDArray embedding =
          scoped.load("embed_tokens.weight", m, config.vocabSize(), config.hiddenSize());
      List<Gemma3Layer> resident = new ArrayList<>();
      for (int i = 0; i < config.layers() - 1; i++) {
        resident.add(Gemma3Layer.load(scoped.scoped("layers." + i), config, m));
      }
      LayerSource layers =
          new LayerSource() {
            @Override
            public BlockLease<Gemma3Layer> layer(int i) {
              return BlockLease.resident(resident.get(i));
            }

            @Override
            public int size() {
              return resident.size();
            }

            @Override
            public void close() {}
          };
      return new Gemma3TextEncoder(config, m, embedding, layers, null);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /**
   * Gemma streamed layer by layer from {@code dir}'s checkpoint: the embedding on the device, each
   * layer read for its call. The encoder keeps the checkpoint open until it is closed.
   */
  public static Gemma3TextEncoder stream(Path dir, ComputeTarget target) {
    Gemma3Config config = Gemma3Config.read(dir);
    TensorStore store = ComponentWeights.of(CheckpointPaths.in(dir)).open();
    NDManager m = NDManager.newBaseManager(target.device());
    try {
      ParameterLoader scoped = prefixed(new Weights(store, target));
      NDArray embedding =
          scoped.load("embed_tokens.weight", m, config.vocabSize(), config.hiddenSize());
      LayerSource layers =
          new LayerSource() {
            @Override
            public BlockLease<Gemma3Layer> layer(int i) {
              NDManager scope = NDManager.newBaseManager(target.device());
              try {
                return BlockLease.owning(
                    Gemma3Layer.load(scoped.scoped("layers." + i), config, scope), scope);
              } catch (RuntimeException e) {
                scope.close();
                throw e;
              }
            }

            @Override
            public int size() {
              return config.layers() - 1;
            }

            @Override
            public void close() {
              store.close();
            }
          };
      return new Gemma3TextEncoder(config, m, embedding, layers, null);
    } catch (RuntimeException e) {
      m.close();
      store.close();
      throw e;
    }
  }

  /**
   * Gemma with its layer matrices in float8, in a {@link BlockStore}: every layer resident on the
   * device in its storage form, or (when {@code streamed}) in host memory and copied for its call;
   * a 16- or 32-bit checkpoint's matrices narrowed to e4m3fn when loaded, each with its scale. The
   * store books the layers in {@code ledger} (resident ones for the encoder's lifetime, a streamed
   * one's copy and a layer's widened matrices for its call); the caller books the embedding ({@link
   * #embeddingBytes}). The encoder keeps the checkpoint open until it is closed.
   */
  public static Gemma3TextEncoder float8(
      Path dir,
      ComputeTarget target,
      boolean streamed,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener) {
    Gemma3Config config = Gemma3Config.read(dir);
    TensorStore store = ComponentWeights.of(CheckpointPaths.in(dir)).open();
    NDManager m = NDManager.newBaseManager(target.device());
    BlockStore blocks = null;
    try {
      Weights weights = new Weights(store, target);
      String prefix = prefixOf(weights);
      Weights scopedWeights = prefix.isEmpty() ? weights : weights.scoped(prefix);
      NDArray embedding =
          ParameterLoader.of(scopedWeights)
              .load("embed_tokens.weight", m, config.vocabSize(), config.hiddenSize());
      List<BlockStore.Slot> slots = new ArrayList<>(config.layers() - 1);
      for (int i = 0; i < config.layers() - 1; i++) {
        slots.add(
            new BlockStore.Slot(
                "layers." + i, streamed, (w, manager) -> Gemma3Layer.load(w, config, manager)));
      }
      blocks =
          BlockStore.load(
              scopedWeights, slots, ledger, hostToDevice, widener, false, BlockStore.Float8.NARROW);
      BlockStore held = blocks;
      LayerSource layers =
          new LayerSource() {
            @Override
            public BlockLease<Gemma3Layer> layer(int i) {
              return held.lease(i, Gemma3Layer.class);
            }

            @Override
            public int size() {
              return held.size();
            }

            @Override
            public void close() {
              try {
                held.close();
              } finally {
                store.close();
              }
            }
          };
      return new Gemma3TextEncoder(config, m, embedding, layers, held);
    } catch (RuntimeException e) {
      m.close();
      if (blocks != null) {
        blocks.close();
      }
      store.close();
      throw e;
    }
  }

  /** Device bytes of the embedding table in the compute dtype: what a caller of float8 books. */
  public static long embeddingBytes(Gemma3Config config, ComputeTarget target) {
    return (long) config.vocabSize() * config.hiddenSize() * target.dtype().getNumOfBytes();
  }

  /** The checkpoint's parameters past the prefix it stores Gemma under. */
  private static ParameterLoader prefixed(Weights weights) {
    ParameterLoader w = ParameterLoader.of(weights);
    String pre = prefixOf(weights);
    return (key, m, shape) -> w.load(pre + key, m, shape);
  }

  /** The one of {@link #PREFIXES} the checkpoint stores Gemma under (with its dot, or empty). */
  private static String prefixOf(Weights weights) {
    String prefix = null;
    for (String p : PREFIXES) {
      if (weights.has(p + "embed_tokens.weight")) {
        prefix = p;
        break;
      }
    }
    if (prefix == null) {
      throw new IllegalArgumentException(
          weights.store().describe()
              + " is not a Gemma 3 text model: no embed_tokens.weight under any of the prefixes "
              + PREFIXES.stream().map(p -> "'" + p + "'").toList());
    }
    return prefix;
  }

  public Gemma3Config config() {
    return config;
  }

  /** The manager of the parameters (tests {@code cap()} it). */
  public NDManager manager() {
    return manager;
  }

  /**
   * Bytes of every array the encoder holds on the device between calls: the manager's and a float8
   * store's resident layers (a measurement).
   */
  public long liveBytes() {
    return DeviceLedger.bytesOf(manager) + (stored != null ? stored.residentArrayBytes() : 0);
  }

  /** Drops a float8 store's prefetched layer copy that no call will claim (after a failure). */
  void cancelPrefetch() {
    if (stored != null) {
      stored.cancelPrefetch();
    }
  }

  /**
   * {@code hidden_states[-2]}: NewBie's caption features.
   *
   * @param ids (B, L) int64 token ids
   * @param mask (B, L) integer attention mask, 1 = token (right padding)
   * @return (B, L, hidden) in the compute dtype on ids' manager, padded rows zero
   */
  public NDArray encode(NDArray ids, NDArray mask) {
    return hiddenState(ids, mask, config.layers() - 1);
  }

  /**
   * {@code hidden_states[n]}: the scaled embeddings for n = 0, else the output of layer n − 1 (n at
   * most L − 1), padded rows zero.
   */
  public NDArray hiddenState(NDArray ids, NDArray mask, int n) {
    Shape s = ids.getShape();
    if (s.dimension() != 2 || !mask.getShape().equals(s)) {
      throw new IllegalArgumentException(
          "ids and mask must both be (B, L), got " + s + " and " + mask.getShape());
    }
    if (n < 0 || n > layers.size()) {
      throw new IllegalArgumentException(
          "hidden state " + n + " is not computed (0 … " + layers.size() + ")");
    }
    int b = (int) s.get(0);
    int l = (int) s.get(1);
    try (NDManager scope = NDManager.subManagerOf(ids)) {
      scope.tempAttachAll(ids, mask);
      DataType dtype = embedding.getDataType();
      long[] m = mask.toType(DataType.INT64, false).toLongArray();
      NDArray x =
          Embedding.embedding(ids.toType(DataType.INT64, false), embedding, SparseFormat.DENSE)
              .singletonOrThrow()
              .mul((float) Math.sqrt(config.hiddenSize()));
      NDArray fullBias = visibility(scope, m, b, l, Integer.MAX_VALUE);
      NDArray slidingBias = visibility(scope, m, b, l, config.slidingWindow());
      HalfRope fullRope =
          HalfRope.of(
              scope,
              HalfRope.inverseFrequencies(
                  config.headDim(), config.fullRopeTheta(), config.fullRopeFactor()),
              l);
      HalfRope slidingRope =
          HalfRope.of(
              scope,
              HalfRope.inverseFrequencies(config.headDim(), config.slidingRopeTheta(), 1),
              l);
      try {
        for (int i = 0; i < n; i++) {
          boolean full = config.fullAttention().get(i);
          NDArray next;
          // A resident layer's lease does nothing; a streamed or float8 one's frees its weights.
          try (BlockLease<Gemma3Layer> layer = layers.layer(i)) {
            next =
                layer
                    .block()
                    .forward(x, full ? fullRope : slidingRope, full ? fullBias : slidingBias);
            next.attach(scope);
          }
          x.close();
          x = next;
        }
      } finally {
        cancelPrefetch(); // a layer past n, or after a failure, that no call of this pass claims
      }
      NDArray keep = mask.toType(dtype, false).expandDims(2);
      return scope.ret(x.mul(keep));
    }
  }

  /**
   * Additive (B, 1, L, L) mask: 0 where key j is visible to query i (j ≤ i, i − j &lt; window, j a
   * token), a huge negative elsewhere (finite, so that fully hidden padding rows stay finite).
   */
  private static NDArray visibility(NDManager m, long[] mask, int b, int l, int window) {
    float[] bias = new float[b * l * l];
    for (int s = 0; s < b; s++) {
      for (int i = 0; i < l; i++) {
        for (int j = 0; j < l; j++) {
          boolean visible = j <= i && i - j < window && mask[s * l + j] != 0;
          bias[(s * l + i) * l + j] = visible ? 0f : -Float.MAX_VALUE;
        }
      }
    }
    return m.create(bias, new Shape(b, 1, l, l));
  }

  @Override
  public void close() {
    try {
      manager.close();
    } finally {
      layers.close();
    }
  }
}
