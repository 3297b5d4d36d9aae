package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * NewBie's two text features of a request, each from its own encoder, so that a pipeline may run
 * one encoder, free it, and load the next (staged text encoders): Gemma's caption features with
 * their mask, and Jina's pooled vectors, each a [prompt, negative] batch.
 */
final class NewbieText {
  private NewbieText() {}

  /**
   * Gemma's {@code hidden_states[-2]} of [system + prompt, system + negative].
   *
   * @return {cap_feats (2, Lc, F), cap_mask (2, Lc)} on {@code m}
   */
  static NDArray[] caption(
      NewbieTokenizer tokenizer, Gemma3TextEncoder gemma, NewbieRequest request, NDManager m) {
    TokenBatch g = tokenizer.encode(List.of(request.gemmaTexts()));
    NDArray ids = g.idsArray(m);
    NDArray mask = g.maskArray(m);
    NDArray features = gemma.encode(ids, mask);
    ids.close();
    return new NDArray[] {features, mask};
  }

  /**
   * Jina's mean-pooled vectors of [prompt, negative] (no system prompt).
   *
   * @return (2, W) on {@code m}
   */
  static NDArray pooled(
      NewbieTokenizer tokenizer, JinaTextTower jina, NewbieRequest request, NDManager m) {
    TokenBatch j = tokenizer.encode(List.of(request.jinaTexts()));
    NDArray ids = j.idsArray(m);
    NDArray mask = j.maskArray(m);
    JinaTextTower.Output out = jina.forward(ids, mask);
    out.lastHiddenState().close();
    ids.close();
    mask.close();
    return out.pooled();
  }
}
