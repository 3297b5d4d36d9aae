package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
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
 * are on the device at a time.
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

  /** Where a call gets layer i from: resident on the device, or read for the call. */
  private interface LayerSource extends AutoCloseable {
    /** Layer i, its weights on {@code scope} when it is read for this call. */
    Gemma3Layer layer(int i, NDManager scope);

    /** How many layers there are: L − 1. */
    int size();

    @Override
    void close();
  }

  private Gemma3TextEncoder(
      Gemma3Config config, NDManager manager, NDArray embedding, LayerSource layers) {
    this.config = config;
    this.manager = manager;
    this.embedding = embedding;
    this.layers = layers;
  }

  /**
   * Loads {@code dir/config.json} and the checkpoint in {@code dir} (the full-precision file, or
   * shards).
   */
  public static Gemma3TextEncoder load(Path dir, ComputeTarget target) {
    Gemma3Config config = Gemma3Config.read(dir);
    try (TensorStore store = TensorStore.open(CheckpointPaths.in(dir))) {
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
            public Gemma3Layer layer(int i, NDManager scope) {
              return resident.get(i);
            }

            @Override
            public int size() {
              return resident.size();
            }

            @Override
            public void close() {}
          };
      return new Gemma3TextEncoder(config, m, embedding, layers);
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
    TensorStore store = TensorStore.open(CheckpointPaths.in(dir));
    NDManager m = NDManager.newBaseManager(target.device());
    try {
      ParameterLoader scoped = prefixed(new Weights(store, target));
      NDArray embedding =
          scoped.load("embed_tokens.weight", m, config.vocabSize(), config.hiddenSize());
      LayerSource layers =
          new LayerSource() {
            @Override
            public Gemma3Layer layer(int i, NDManager scope) {
              return Gemma3Layer.load(scoped.scoped("layers." + i), config, scope);
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
      return new Gemma3TextEncoder(config, m, embedding, layers);
    } catch (RuntimeException e) {
      m.close();
      store.close();
      throw e;
    }
  }

  /** The checkpoint's parameters past the prefix it stores Gemma under. */
  private static ParameterLoader prefixed(Weights weights) {
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
    ParameterLoader w = ParameterLoader.of(weights);
    String pre = prefix;
    return (key, m, shape) -> w.load(pre + key, m, shape);
  }

  public Gemma3Config config() {
    return config;
  }

  /** The manager of the parameters (tests {@code cap()} it). */
  public NDManager manager() {
    return manager;
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
      for (int i = 0; i < n; i++) {
        boolean full = config.fullAttention().get(i);
        NDArray next;
        try (NDManager layerScope = scope.newSubManager()) {
          // Resident layers ignore the scope; a streamed one's weights are freed with it.
          Gemma3Layer layer = layers.layer(i, layerScope);
          next = layer.forward(x, full ? fullRope : slidingRope, full ? fullBias : slidingBias);
          next.attach(scope);
        }
        x.close();
        x = next;
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
