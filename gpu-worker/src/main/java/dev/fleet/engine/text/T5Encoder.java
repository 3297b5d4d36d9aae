package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The encoder half of T5 with Hugging Face {@code T5EncoderModel} semantics (T5 v1.1: RMS
 * LayerNorm, unscaled attention with layer 0's relative position bias shared by all layers, gated
 * GELU feed-forward, final LayerNorm). FLUX feeds its {@code last_hidden_state} to the transformer
 * without an attention mask, so none is taken here.
 *
 * <p>The parameters live on a manager this model owns; it is capped after loading, so that an
 * inference-time allocation on it fails instead of leaking. In float16 each block's {@code wo} is
 * held in float32, as transformers does for T5 (see {@link T5Block}). The blocks are either on that
 * manager too ({@link #load}) or leased one at a time from host memory for their call ({@link
 * StreamedT5Encoder#onDevice}); the forward pass is the same.
 */
public final class T5Encoder implements AutoCloseable {
  private final T5Config config;
  private final NDManager parameters;
  private final NDArray embedding; // (V, d_model)
  private final T5RelativePositionBias positionBias;
  private final Layers layers;
  private final T5LayerNorm finalNorm;

  /** Where the blocks are between calls: asked for block {@code i} right before its call. */
  interface Layers extends AutoCloseable {
    BlockLease<T5Block> layer(int index);

    /** Frees what the source holds on the device (not the blocks' host copies). */
    @Override
    void close();
  }

  T5Encoder(
      T5Config config,
      NDManager parameters,
      NDArray embedding,
      T5RelativePositionBias positionBias,
      Layers layers,
      T5LayerNorm finalNorm) {
    this.config = config;
    this.parameters = parameters;
    this.embedding = embedding;
    this.positionBias = positionBias;
    this.layers = layers;
    this.finalNorm = finalNorm;
  }

  /** Loads {@code dir/config.json} and the weights in {@code dir} (single file or shard index). */
  public static T5Encoder load(Path dir, ComputeTarget target) {
    T5Config config = T5Config.read(dir);
    try (TensorStore store = TensorStore.open(dir)) {
      return load(config, new Weights(store, target));
    }
  }

  /**
   * Loads a {@code T5EncoderModel} (or full T5) checkpoint; the token embedding is {@code
   * shared.weight} or {@code encoder.embed_tokens.weight}.
   */
  public static T5Encoder load(T5Config config, Weights w) {
    String embeddingKey = embeddingKey(w);
    NDManager manager = NDManager.newBaseManager(w.target().device());
    try {
      NDArray embedding =
          w.load(embeddingKey, manager, config.dims().vocabSize(), config.dims().dModel());
      Weights encoder = w.scoped("encoder");
      NDArray table =
          encoder.load(POSITION_BIAS, manager, config.dims().numBuckets(), config.dims().heads());
      List<T5Block> blocks = new ArrayList<>();
      for (int i = 0; i < config.dims().layers(); i++) {
        blocks.add(T5Block.load(T5Block.parameters(encoder.scoped("block." + i)), config, manager));
      }
      T5LayerNorm finalNorm =
          T5LayerNorm.load(
              encoder,
              "final_layer_norm.weight",
              config.dims().dModel(),
              config.layerNormEps(),
              manager);
      manager.cap();
      return new T5Encoder(
          config,
          manager,
          embedding,
          new T5RelativePositionBias(table, config.dims().numBuckets(), config.maxDistance()),
          resident(blocks),
          finalNorm);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Layer 0's relative position bias table, under {@code encoder.}: shared by every layer. */
  static final String POSITION_BIAS =
      "block.0.layer.0.SelfAttention.relative_attention_bias.weight";

  /** The token embedding's key: {@code shared.weight} or {@code encoder.embed_tokens.weight}. */
  static String embeddingKey(Weights w) {
    if (w.has("shared.weight")) {
      return "shared.weight";
    }
    if (w.has("encoder.embed_tokens.weight")) {
      return "encoder.embed_tokens.weight";
    }
    throw new IllegalArgumentException(
        w.store().describe()
            + " is not a T5 encoder: it has neither shared.weight nor encoder.embed_tokens.weight");
  }

  public T5Config config() {
    return config;
  }

  /**
   * Encodes token ids.
   *
   * @param ids (B, L) int64 on the model's device
   * @return last hidden state (B, L, d_model) in the compute dtype, attached to the manager of
   *     {@code ids}
   */
  public NDArray forward(NDArray ids) {
    Shape shape = ids.getShape();
    if (shape.dimension() != 2 || shape.get(1) < 1) {
      throw new IllegalArgumentException("T5 ids must be (B, L) with L >= 1, got " + shape);
    }
    try (NDManager scope = NDManager.subManagerOf(ids)) {
      scope.tempAttachAll(ids);
      NDArray idx = ids.toType(DataType.INT64, false);
      NDArray x = Embedding.embedding(idx, embedding, SparseFormat.DENSE).singletonOrThrow();
      NDArray bias = positionBias.forward(scope, shape.get(1)); // (1, H, L, L)
      for (int i = 0; i < config.dims().layers(); i++) {
        try (BlockLease<T5Block> block = layers.layer(i)) {
          x = block.block().forward(x, bias); // (B, L, d_model)
        }
      }
      return scope.ret(finalNorm.forward(x));
    }
  }

  /** The capped manager holding the parameters (tests check that inference leaves it alone). */
  NDManager parameterManager() {
    return parameters;
  }

  /** Blocks loaded with the model, on its parameter manager. */
  private static Layers resident(List<T5Block> blocks) {
    List<T5Block> loaded = List.copyOf(blocks);
    return new Layers() {
      @Override
      public BlockLease<T5Block> layer(int index) {
        return BlockLease.resident(loaded.get(index));
      }

      @Override
      public void close() {}
    };
  }

  @Override
  public void close() {
    try {
      parameters.close();
    } finally {
      layers.close();
    }
  }
}
