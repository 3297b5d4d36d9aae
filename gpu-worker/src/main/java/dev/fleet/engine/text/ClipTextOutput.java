package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;

/**
 * What {@link ClipTextModel#forward} returns; closing it frees both arrays.
 *
 * @param lastHiddenState (B, L, C)
 * @param pooledOutput (B, C), the hidden state at the end token
 */
public record ClipTextOutput(NDArray lastHiddenState, NDArray pooledOutput)
    implements AutoCloseable {

  @Override
  public void close() {
    lastHiddenState.close();
    pooledOutput.close();
  }
}
