package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.engine.weights.ComputeTarget;
import java.nio.file.Path;

/**
 * Prompt to FLUX text conditioning, with the semantics of BFL's {@code HFEmbedder} pair: T5 ids
 * padded to the pipeline length give {@code txt} (the last hidden state), CLIP ids padded to 77
 * give {@code y} (the pooled output); no attention masks anywhere.
 */
public final class TextEmbedder implements AutoCloseable {
  private final PromptTokenizer clipTokenizer;
  private final PromptTokenizer t5Tokenizer;
  private final ClipTextModel clip;
  private final T5Encoder t5;
  private final ComputeTarget target;

  public TextEmbedder(
      PromptTokenizer clipTokenizer,
      PromptTokenizer t5Tokenizer,
      ClipTextModel clip,
      T5Encoder t5,
      ComputeTarget target) {
    this.clipTokenizer = clipTokenizer;
    this.t5Tokenizer = t5Tokenizer;
    this.clip = clip;
    this.t5 = t5;
    this.target = target;
  }

  /**
   * Loads {@code tokenizer/}, {@code tokenizer_2/}, {@code text_encoder/} and {@code
   * text_encoder_2/} of a model directory in the FLUX.1-dev layout.
   *
   * @param t5Length the T5 length when {@code tokenizer_2/tokenizer.json} carries none (the DiT's
   *     {@code FluxDims.defaultTextTokens})
   */
  public static TextEmbedder load(Path modelDir, int t5Length, ComputeTarget target) {
    PromptTokenizer clipTokenizer = null;
    PromptTokenizer t5Tokenizer = null;
    ClipTextModel clip = null;
    try {
      clipTokenizer = PromptTokenizer.clip(modelDir.resolve("tokenizer"));
      t5Tokenizer = PromptTokenizer.t5(modelDir.resolve("tokenizer_2"), t5Length);
      clip = ClipTextModel.load(modelDir.resolve("text_encoder"), target);
      T5Encoder t5 = T5Encoder.load(modelDir.resolve("text_encoder_2"), target);
      return new TextEmbedder(clipTokenizer, t5Tokenizer, clip, t5, target);
    } catch (RuntimeException e) {
      closeAll(clip, t5Tokenizer, clipTokenizer);
      throw e;
    }
  }

  /**
   * Encodes one prompt.
   *
   * @param manager receives the results (on the compute device)
   * @return T5 last hidden state (1, L, d_model) and CLIP pooled output (1, C) in the compute dtype
   */
  public TextEmbeddings embed(String prompt, NDManager manager) {
    try (NDManager scope = manager.newSubManager(target.device())) {
      long[] t5Ids = t5Tokenizer.encode(prompt);
      long[] clipIds = clipTokenizer.encode(prompt);
      NDArray txt = t5.forward(scope.create(t5Ids, new Shape(1, t5Ids.length))); // (1, L, D)
      ClipTextOutput out = clip.forward(scope.create(clipIds, new Shape(1, clipIds.length)));
      NDArray pooled = out.pooledOutput(); // (1, C)
      // Only the two results leave the scope; ids and the CLIP hidden states die with it.
      txt.attach(manager);
      pooled.attach(manager);
      return new TextEmbeddings(txt, pooled);
    }
  }

  /** The number of T5 tokens {@link #embed} produces. */
  public int t5Length() {
    return t5Tokenizer.maxLength();
  }

  public PromptTokenizer clipTokenizer() {
    return clipTokenizer;
  }

  public PromptTokenizer t5Tokenizer() {
    return t5Tokenizer;
  }

  public ClipTextModel clip() {
    return clip;
  }

  public T5Encoder t5() {
    return t5;
  }

  @Override
  public void close() {
    closeAll(t5, clip, t5Tokenizer, clipTokenizer);
  }

  private static void closeAll(AutoCloseable... resources) {
    RuntimeException failure = null;
    for (AutoCloseable r : resources) {
      if (r == null) {
        continue;
      }
      try {
        r.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new IllegalStateException("cannot close " + r, e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
