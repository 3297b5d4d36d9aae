package dev.fleet.model.memory;

/**
 * The dimensions of a Gemma 3 text model as NewBie-image uses it: only {@code hidden_states[-2]} is
 * read, so the engine loads the embedding and layers 0 … L−2 and never the last layer nor the final
 * norm; those are what {@link #params} counts.
 *
 * @param headDim width of one attention head (256 for Gemma 3, not hidden / heads)
 * @param intermediateSize the GeGLU's hidden width
 * @param sequenceLength the most tokens a prompt is encoded at (NewBie truncates at 512)
 */
public record GemmaDims(
    int vocabSize,
    int hiddenSize,
    int layers,
    int heads,
    int kvHeads,
    int headDim,
    int intermediateSize,
    int sequenceLength) {

  public GemmaDims {
    String me = "Gemma 3 dimensions";
    Dims.positive(me, "vocab_size", vocabSize);
    Dims.positive(me, "hidden_size", hiddenSize);
    Dims.positive(me, "num_attention_heads", heads);
    Dims.positive(me, "num_key_value_heads", kvHeads);
    Dims.positive(me, "head_dim", headDim);
    Dims.positive(me, "intermediate_size", intermediateSize);
    Dims.positive(me, "sequence length", sequenceLength);
    if (layers < 2) {
      throw new IllegalArgumentException(
          me + ": hidden_states[-2] needs at least 2 layers, got " + layers);
    }
  }

  /** Layers the engine loads and runs: all but the last. */
  public int loadedLayers() {
    return layers - 1;
  }

  /** The token embedding, vocab x hidden. */
  public long embeddingParams() {
    return (long) vocabSize * hiddenSize;
  }

  /**
   * One decoder layer: q (H hd x h), k and v (KV hd x h), o (h x H hd), gate and up (f x h), down
   * (h x f), four RMS norms (h each) and the q and k norms (hd each).
   */
  public long layerParams() {
    return layerMatrixParams() + layerVectorParams();
  }

  /** The matrices of one layer: q, k, v, o, gate, up and down. */
  public static final int LAYER_MATRICES = 7;

  /** One layer's matrices: q and o (H hd x h), k and v (KV hd x h), gate, up and down (f x h). */
  public long layerMatrixParams() {
    long h = hiddenSize;
    long q = (long) heads * headDim;
    long kv = (long) kvHeads * headDim;
    return 2 * q * h + 2 * kv * h + 3L * intermediateSize * h;
  }

  /** One layer's norm vectors: four RMS norms (h each) and the q and k norms (hd each). */
  public long layerVectorParams() {
    return 4L * hiddenSize + 2L * headDim;
  }

  /** The largest matrix of a layer: q or o, or one of the GeGLU's three. */
  public long largestLayerMatrix() {
    return Math.max((long) heads * headDim, intermediateSize) * hiddenSize;
  }

  /** What the engine loads: the embedding and {@link #loadedLayers} layers. */
  public long params() {
    return embeddingParams() + loadedLayers() * layerParams();
  }
}
