package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Jina CLIP v2's text tower as NewBie's pooled text encoder (the XLM-R flash implementation's math
 * with its task LoRA merged, by the checkpoint or at load: {@link JinaTaskLora}): {@code
 * emb_ln(word_embeddings[ids] + token_type_embeddings[0])} (no absolute positions), post-norm
 * layers {@code x = norm1(x + out_proj(Attn(Wqkv x)))}, {@code x = norm2(x + fc2(gelu(fc1 x)))}
 * with exact GELU and rotate-half RoPE over the whole head, padding keys hidden; the pooled vector
 * is the mask-weighted mean of the last hidden states, not normalised.
 */
public final class JinaTextTower implements AutoCloseable {
  /** Key prefixes the tower is found under (jina-clip-v2's checkpoint, a bare XLM-R). */
  static final List<String> PREFIXES = List.of("text_model.transformer.roberta.", "roberta.", "");

  private final JinaTextConfig config;
  private final NDManager manager;
  private final NDArray wordEmbeddings;
  private final NDArray tokenType0;
  private final LayerNorm embLn;
  private final List<Layer> layers;

  /** One post-norm encoder layer. */
  private record Layer(
      Linear wqkv, Linear outProj, LayerNorm norm1, Linear fc1, Linear fc2, LayerNorm norm2) {}

  /** The tower's outputs. */
  public record Output(NDArray lastHiddenState, NDArray pooled) implements AutoCloseable {
    @Override
    public void close() {
      lastHiddenState.close();
      pooled.close();
    }
  }

  private JinaTextTower(
      JinaTextConfig config,
      NDManager manager,
      NDArray wordEmbeddings,
      NDArray tokenType0,
      LayerNorm embLn,
      List<Layer> layers) {
    this.config = config;
    this.manager = manager;
    this.wordEmbeddings = wordEmbeddings;
    this.tokenType0 = tokenType0;
    this.embLn = embLn;
    this.layers = layers;
  }

  /**
   * Loads {@code dir/config.json} and the checkpoint in {@code dir} (the full-precision file, or
   * shards).
   */
  public static JinaTextTower load(Path dir, ComputeTarget target) {
    JinaTextConfig config = JinaTextConfig.read(dir);
    try (TensorStore store = TensorStore.open(CheckpointPaths.in(dir))) {
      return load(new Weights(store, target), config);
    }
  }

  /** Loads the tower from a checkpoint under any of {@link #PREFIXES}; the store may be closed. */
  public static JinaTextTower load(Weights weights, JinaTextConfig config) {
    Weights w = towerOf(weights);
    long h = config.hiddenSize();
    long f = config.intermediateSize();
    float eps = config.layerNormEps();
    NDManager m = NDManager.newBaseManager(weights.target().device());
    try {
      JinaTaskLora lora = config.taskLora();
      NDArray words =
          JinaTaskLora.load(lora, w, "embeddings.word_embeddings.weight", m, config.vocabSize(), h);
      // Only type 0's row is ever added: keep a copy of it (not a view, which would keep the
      // table's storage), and free the table with its views.
      NDArray tokenType;
      try (NDManager scratch = m.newSubManager()) {
        long typeRows = typeRows(w);
        NDArray types =
            JinaTaskLora.load(
                lora, w, "embeddings.token_type_embeddings.weight", scratch, typeRows, h);
        tokenType = types.get("0").reshape(1, 1, h).duplicate();
        tokenType.attach(m);
      }
      LayerNorm embLn = layerNorm(w, "emb_ln", m, h, eps);
      List<Layer> layers = new ArrayList<>();
      for (int i = 0; i < config.layers(); i++) {
        Weights l = w.scoped("encoder.layers." + i);
        layers.add(
            new Layer(
                linear(lora, l, "mixer.Wqkv", m, 3 * h, h),
                linear(lora, l, "mixer.out_proj", m, h, h),
                layerNorm(l, "norm1", m, h, eps),
                linear(lora, l, "mlp.fc1", m, f, h),
                linear(lora, l, "mlp.fc2", m, h, f),
                layerNorm(l, "norm2", m, h, eps)));
      }
      return new JinaTextTower(config, m, words, tokenType, embLn, layers);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  private static Linear linear(
      JinaTaskLora lora, Weights w, String name, NDManager m, long out, long in) {
    return new Linear(
        JinaTaskLora.load(lora, w, name + ".weight", m, out, in), w.load(name + ".bias", m, out));
  }

  /** Rows of the token-type table (1 in jina-clip-v2), from the stored or the original matrix. */
  /**
   * The tower's part of a checkpoint: the view under the first of {@link #PREFIXES} that holds the
   * word embeddings (plain or as a LoRA parametrization).
   *
   * @throws IllegalArgumentException naming the file and the prefixes tried
   */
  static Weights towerOf(Weights weights) {
    for (String p : PREFIXES) {
      String words = p + "embeddings.word_embeddings.weight";
      if (weights.has(words) || JinaTaskLora.parametrized(weights, words)) {
        return p.isEmpty() ? weights : weights.scoped(p.substring(0, p.length() - 1));
      }
    }
    throw new IllegalArgumentException(
        weights.store().describe()
            + " is not a Jina text tower: no embeddings.word_embeddings.weight (plain or as a"
            + " LoRA parametrization) under any of the prefixes "
            + PREFIXES.stream().map(p -> "'" + p + "'").toList());
  }

  /** The shape of the weight {@code key} ({@code ….weight}), stored plain or parametrized. */
  static long[] storedShape(Weights w, String key) {
    return w.shape(w.has(key) ? key : key.replace(".weight", JinaTaskLora.ORIGINAL));
  }

  private static long typeRows(Weights w) {
    return storedShape(w, "embeddings.token_type_embeddings.weight")[0];
  }

  private static LayerNorm layerNorm(Weights w, String name, NDManager m, long dim, float eps) {
    return new LayerNorm(w.load(name + ".weight", m, dim), w.load(name + ".bias", m, dim), eps);
  }

  public JinaTextConfig config() {
    return config;
  }

  /** The manager of the parameters (tests {@code cap()} it). */
  public NDManager manager() {
    return manager;
  }

  /**
   * @param ids (B, L) int64 token ids
   * @param mask (B, L) integer attention mask (1 = token)
   * @return last hidden states (B, L, W) and the mean-pooled (B, W), on ids' manager
   */
  public Output forward(NDArray ids, NDArray mask) {
    Shape s = ids.getShape();
    if (s.dimension() != 2 || !mask.getShape().equals(s)) {
      throw new IllegalArgumentException(
          "ids and mask must both be (B, L), got " + s + " and " + mask.getShape());
    }
    long b = s.get(0);
    long l = s.get(1);
    int heads = config.heads();
    int hd = config.headDim();
    long width = config.hiddenSize();
    try (NDManager scope = NDManager.subManagerOf(ids)) {
      scope.tempAttachAll(ids, mask);
      DataType dtype = wordEmbeddings.getDataType();
      NDArray x =
          Embedding.embedding(ids.toType(DataType.INT64, false), wordEmbeddings, SparseFormat.DENSE)
              .singletonOrThrow()
              .add(tokenType0);
      x = embLn.forward(x);
      NDArray maskF = mask.toType(dtype, false);
      NDArray keyBias =
          mask.toType(DataType.FLOAT32, false)
              .sub(1f)
              .mul(Float.MAX_VALUE)
              .reshape(b, 1, 1, l)
              .toType(dtype, false);
      HalfRope rope =
          HalfRope.of(scope, HalfRope.inverseFrequencies(hd, config.rotaryBase(), 1), (int) l);
      float scale = (float) (1.0 / Math.sqrt(hd));
      for (Layer layer : layers) {
        NDArray qkv = layer.wqkv().forward(x).reshape(b, l, 3, heads, hd);
        NDArray q = rope.apply(qkv.get(":, :, 0").transpose(0, 2, 1, 3));
        NDArray k = rope.apply(qkv.get(":, :, 1").transpose(0, 2, 1, 3));
        NDArray v = qkv.get(":, :, 2").transpose(0, 2, 1, 3);
        NDArray o = Attention.mergeHeads(Attention.sdpa(q, k, v, keyBias, scale));
        x = layer.norm1().forward(x.add(layer.outProj().forward(o)));
        NDArray hidden = layer.fc1().forward(x);
        NDArray gelu = hidden.mul(hidden.mul((float) (1 / Math.sqrt(2))).erf().add(1f)).mul(0.5f);
        x = layer.norm2().forward(x.add(layer.fc2().forward(gelu)));
      }
      NDArray weights = maskF.expandDims(2); // (B, L, 1)
      NDArray pooled = x.mul(weights).sum(new int[] {1}).div(weights.sum(new int[] {1}));
      NDList out = scope.ret(new NDList(x, pooled));
      return new Output(out.get(0), out.get(1));
    }
  }

  @Override
  public void close() {
    manager.close();
  }

  /** Width of the pooled vector. */
  public long width() {
    return config.hiddenSize();
  }
}
