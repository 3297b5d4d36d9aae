package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CLIP's text encoder with Hugging Face {@code CLIPTextModel} semantics: token + position
 * embeddings, causal pre-LN layers, a final LayerNorm, and the pooled output taken at the end
 * token. FLUX uses the pooled output as its global text vector.
 *
 * <p>The parameters live on a manager this model owns; it is capped after loading, so that an
 * inference-time allocation on it fails instead of leaking.
 */
public final class ClipTextModel implements AutoCloseable {
  private static final String TOKEN_EMBEDDING = "embeddings.token_embedding.weight";

  private final ClipTextConfig config;
  private final NDManager parameters;
  private final NDArray tokenEmbedding; // (V, C)
  private final NDArray positionEmbedding; // (P, C)
  private final List<ClipEncoderLayer> layers;
  private final LayerNorm finalNorm;

  private ClipTextModel(
      ClipTextConfig config,
      NDManager parameters,
      NDArray tokenEmbedding,
      NDArray positionEmbedding,
      List<ClipEncoderLayer> layers,
      LayerNorm finalNorm) {
    this.config = config;
    this.parameters = parameters;
    this.tokenEmbedding = tokenEmbedding;
    this.positionEmbedding = positionEmbedding;
    this.layers = List.copyOf(layers);
    this.finalNorm = finalNorm;
  }

  /** Loads {@code dir/config.json} and the safetensors weights in {@code dir} (file or shards). */
  public static ClipTextModel load(Path dir, ComputeTarget target) {
    ClipTextConfig config = ClipTextConfig.read(dir);
    try (TensorStore store = TensorStore.open(dir)) {
      return load(config, new Weights(store, target));
    }
  }

  /**
   * Loads the weights of a {@code CLIPTextModel} checkpoint, with or without the {@code
   * text_model.} key prefix (transformers 4 writes it, 5 does not).
   */
  public static ClipTextModel load(ClipTextConfig config, Weights checkpoint) {
    Weights w =
        checkpoint.has("text_model." + TOKEN_EMBEDDING)
            ? checkpoint.scoped("text_model")
            : checkpoint;
    if (!w.has(TOKEN_EMBEDDING)) {
      throw new IllegalArgumentException(
          checkpoint.store().describe()
              + " is not a CLIP text encoder: it has neither text_model."
              + TOKEN_EMBEDDING
              + " nor "
              + TOKEN_EMBEDDING);
    }
    NDManager manager = NDManager.newBaseManager(checkpoint.target().device());
    try {
      long c = config.dims().hiddenSize();
      NDArray token = w.load(TOKEN_EMBEDDING, manager, config.dims().vocabSize(), c);
      NDArray position =
          w.load(
              "embeddings.position_embedding.weight", manager, config.dims().sequenceLength(), c);
      List<ClipEncoderLayer> layers = new ArrayList<>();
      for (int i = 0; i < config.dims().layers(); i++) {
        layers.add(ClipEncoderLayer.load(w.scoped("encoder.layers." + i), config, manager));
      }
      LayerNorm finalNorm = LayerNorm.load(w, "final_layer_norm", config.layerNormEps(), manager);
      manager.cap();
      return new ClipTextModel(config, manager, token, position, layers, finalNorm);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  public ClipTextConfig config() {
    return config;
  }

  /**
   * Encodes token ids.
   *
   * @param ids (B, L) int64 on the model's device, L at most {@code max_position_embeddings}
   * @return last hidden state (B, L, C) and pooled output (B, C) in the compute dtype, attached to
   *     the manager of {@code ids}
   */
  public ClipTextOutput forward(NDArray ids) {
    return forward(ids, Adapters.NONE);
  }

  /**
   * Encodes token ids with low-rank side paths (LoRA adapters) on the layers' linears, by their
   * names {@code clip.encoder.layers.N.self_attn.q_proj} ... (see {@link
   * dev.fleet.engine.lora.DeviceAdapters#buildClip}); the weights are never changed, and {@link
   * Adapters#NONE} is exactly {@link #forward(NDArray)}.
   */
  public ClipTextOutput forward(NDArray ids, Adapters adapters) {
    Shape shape = ids.getShape();
    if (shape.dimension() != 2
        || shape.get(1) > config.dims().sequenceLength()
        || shape.get(1) < 1) {
      throw new IllegalArgumentException(
          "CLIP ids must be (B, L) with 1 <= L <= "
              + config.dims().sequenceLength()
              + ", got "
              + shape);
    }
    long b = shape.get(0);
    long l = shape.get(1);
    try (NDManager scope = NDManager.subManagerOf(ids)) {
      scope.tempAttachAll(ids);
      NDArray idx = ids.toType(DataType.INT64, false);
      NDArray x = Embedding.embedding(idx, tokenEmbedding, SparseFormat.DENSE).singletonOrThrow();
      x = x.add(positionEmbedding.get(scope, new NDIndex(":{}", l))); // (B, L, C)
      NDArray mask = causalMask(scope, l, x); // (1, 1, L, L)
      for (int i = 0; i < layers.size(); i++) {
        ClipEncoderLayer layer = layers.get(i);
        if (adapters != Adapters.NONE) {
          layer = layer.adapted(adapters, "clip.encoder.layers." + i + ".");
        }
        x = layer.forward(x, mask);
      }
      NDArray last = finalNorm.forward(x); // (B, L, C)
      NDArray pooled = pool(last, idx, b); // (B, C)
      NDList out = scope.ret(new NDList(last, pooled));
      return new ClipTextOutput(out.get(0), out.get(1));
    }
  }

  /**
   * The hidden state at the end token: legacy configs (eos id 2) take the first highest id, as
   * transformers does; others the first position holding the eos id.
   */
  private NDArray pool(NDArray last, NDArray ids, long b) {
    NDArray position =
        config.poolsAtHighestId()
            ? ids.argMax(1)
            : ids.eq(config.eosTokenId()).toType(DataType.INT32, false).argMax(1); // (B)
    long c = last.getShape().get(2);
    NDArray index = position.toType(DataType.INT64, false).reshape(b, 1, 1).broadcast(b, 1, c);
    return last.gather(index, 1).reshape(b, c);
  }

  /** 0 on and below the diagonal, the dtype's lowest value above it (transformers' mask). */
  private static NDArray causalMask(NDManager scope, long l, NDArray like) {
    DataType dtype = like.getDataType();
    float lowest = dtype == DataType.FLOAT16 ? -65504f : -Float.MAX_VALUE;
    int n = Math.toIntExact(l);
    float[] mask = new float[n * n];
    for (int i = 0; i < n; i++) {
      Arrays.fill(mask, i * n + i + 1, (i + 1) * n, lowest);
    }
    return scope
        .create(mask, new Shape(1, 1, l, l))
        .toDevice(like.getDevice(), false)
        .toType(dtype, false);
  }

  /** The capped manager holding the parameters (tests check that inference leaves it alone). */
  NDManager parameterManager() {
    return parameters;
  }

  @Override
  public void close() {
    parameters.close();
  }
}
