package dev.fleet.model.memory;

/**
 * The dimensions of a CLIP text model (FLUX's CLIP-L): pre-norm transformer with biases.
 *
 * @param sequenceLength tokens it reads: {@code max_position_embeddings}, 77
 */
public record ClipDims(
    int vocabSize,
    int hiddenSize,
    int heads,
    int layers,
    int intermediateSize,
    int sequenceLength) {

  public ClipDims {
    String me = "CLIP dimensions";
    Dims.positive(me, "vocab_size", vocabSize);
    Dims.positive(me, "hidden_size", hiddenSize);
    Dims.positive(me, "num_attention_heads", heads);
    Dims.positive(me, "num_hidden_layers", layers);
    Dims.positive(me, "intermediate_size", intermediateSize);
    Dims.positive(me, "max_position_embeddings", sequenceLength);
  }

  public long params() {
    long h = hiddenSize;
    long perLayer =
        4 * Dims.linear(h, h, true) // q, k, v, out projections
            + 2 * 2 * h // two layer norms, weight and bias
            + Dims.linear(intermediateSize, h, true)
            + Dims.linear(h, intermediateSize, true);
    return (long) vocabSize * h // token embedding
        + (long) sequenceLength * h // position embedding
        + layers * perLayer
        + 2 * h; // final layer norm
  }
}
