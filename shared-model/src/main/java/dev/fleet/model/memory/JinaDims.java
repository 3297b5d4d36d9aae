package dev.fleet.model.memory;

/**
 * The dimensions of Jina CLIP v2's text tower (an XLM-R with rotary positions, post-LayerNorm,
 * biases everywhere), whose mean-pooled output NewBie-image feeds its transformer.
 *
 * @param width hidden size (1024)
 * @param intermediateSize the feed-forward's hidden width (4096)
 * @param sequenceLength the most tokens a prompt is encoded at (NewBie truncates at 2048)
 */
public record JinaDims(
    int vocabSize, int width, int layers, int heads, int intermediateSize, int sequenceLength) {

  public JinaDims {
    String me = "Jina text dimensions";
    Dims.positive(me, "vocab_size", vocabSize);
    Dims.positive(me, "hidden_size", width);
    Dims.positive(me, "num_hidden_layers", layers);
    Dims.positive(me, "num_attention_heads", heads);
    Dims.positive(me, "intermediate_size", intermediateSize);
    Dims.positive(me, "sequence length", sequenceLength);
  }

  /**
   * Word and token-type (one type) embeddings, the embedding LayerNorm, and per layer Wqkv, the
   * output projection, fc1, fc2 (all with biases) and two LayerNorms.
   */
  public long params() {
    long w = width;
    long f = intermediateSize;
    long perLayer =
        Dims.linear(3 * w, w, true)
            + Dims.linear(w, w, true)
            + Dims.linear(f, w, true)
            + Dims.linear(w, f, true)
            + 2 * 2 * w;
    return ((long) vocabSize + 1) * w + 2 * w + layers * perLayer;
  }
}
