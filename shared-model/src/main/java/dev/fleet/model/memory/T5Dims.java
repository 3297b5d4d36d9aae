package dev.fleet.model.memory;

/**
 * The dimensions of a T5 v1.1 encoder (FLUX's T5-XXL): gated-GELU feed-forward, no biases, a
 * relative position bias in the first block only.
 *
 * <p>These are the encoder's own dimensions, what its {@code config.json} says. How many tokens a
 * pipeline encodes is the pipeline's choice, not the encoder's (T5's relative position bias takes
 * any length), so it is not here: FLUX's is {@link FluxDims#textTokens}.
 *
 * @param dKv width of one attention head; {@code heads * dKv} need not equal {@code dModel}
 * @param numBuckets relative position buckets (32)
 */
public record T5Dims(
    int vocabSize, int dModel, int dKv, int dFf, int heads, int layers, int numBuckets) {

  public T5Dims {
    String me = "T5 dimensions";
    Dims.positive(me, "vocab_size", vocabSize);
    Dims.positive(me, "d_model", dModel);
    Dims.positive(me, "d_kv", dKv);
    Dims.positive(me, "d_ff", dFf);
    Dims.positive(me, "num_heads", heads);
    Dims.positive(me, "num_layers", layers);
    Dims.positive(me, "relative_attention_num_buckets", numBuckets);
  }

  public int innerDim() {
    return heads * dKv;
  }

  /** The shared token embedding, vocab x d_model. */
  public long embeddingParams() {
    return (long) vocabSize * dModel;
  }

  /**
   * One encoder block without the position bias: q, k, v (inner x d), o (d x inner), wi_0 and wi_1
   * (d_ff x d), wo (d x d_ff) and two RMS norm scales.
   */
  public long layerParams() {
    long d = dModel;
    return 4 * d * innerDim() + 3 * d * dFf + 2 * d;
  }

  public long params() {
    return embeddingParams()
        + layers * layerParams()
        + (long) numBuckets * heads // relative_attention_bias, block 0 only
        + dModel; // final_layer_norm
  }
}
