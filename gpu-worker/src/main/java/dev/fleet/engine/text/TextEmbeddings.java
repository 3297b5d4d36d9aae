package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;

/**
 * The two text conditionings FLUX takes, as BFL's {@code HFEmbedder} makes them (no masks); closing
 * it frees both arrays.
 *
 * @param t5 (1, L, d_model) T5 last hidden state, the transformer's {@code txt}
 * @param clipPooled (1, C) CLIP pooled output, the transformer's {@code y}
 */
public record TextEmbeddings(NDArray t5, NDArray clipPooled) implements AutoCloseable {

  @Override
  public void close() {
    t5.close();
    clipPooled.close();
  }
}
