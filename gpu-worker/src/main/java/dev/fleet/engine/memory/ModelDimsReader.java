package dev.fleet.engine.memory;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.pipeline.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.synthetic.ModelShape;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.text.TextEmbedder;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.model.memory.AutoencoderDims;
import dev.fleet.model.memory.ClipDims;
import dev.fleet.model.memory.DitDims;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.T5Dims;

/**
 * The memory planner's view ({@link ModelDims}) of the engine's configurations: of a model
 * directory, read as the pipeline reads it, or of a synthetic {@link ModelShape}.
 */
public final class ModelDimsReader {
  private ModelDimsReader() {}

  /** The dimensions of the engine's configuration records; {@code t5Length} is T5's sequence. */
  public static ModelDims of(
      String name,
      FluxParams dit,
      T5Config t5,
      int t5Length,
      ClipTextConfig clip,
      AutoEncoderParams ae) {
    return new ModelDims(
        name,
        new DitDims(
            dit.inChannels(),
            dit.outChannels(),
            dit.vecInDim(),
            dit.contextInDim(),
            dit.hiddenSize(),
            dit.mlpRatio(),
            dit.numHeads(),
            dit.depth(),
            dit.depthSingleBlocks(),
            dit.qkvBias(),
            dit.guidanceEmbed()),
        new T5Dims(
            t5.vocabSize(),
            t5.dModel(),
            t5.dKv(),
            t5.dFf(),
            t5.heads(),
            t5.layers(),
            t5.numBuckets(),
            t5Length),
        new ClipDims(
            clip.vocabSize(),
            clip.hiddenSize(),
            clip.heads(),
            clip.layers(),
            clip.intermediateSize(),
            clip.maxPositions()),
        new AutoencoderDims(
            ae.inChannels(), ae.ch(), ae.outCh(), ae.chMult(), ae.numResBlocks(), ae.zChannels()));
  }

  /** A synthetic shape's dimensions, T5 at the pipeline's length for it ({@link #t5Length}). */
  public static ModelDims of(ModelShape shape, int t5Length) {
    return of(shape.name(), shape.dit(), shape.t5(), t5Length, shape.clip(), shape.vae());
  }

  /** The pipeline's T5 length when the tokenizer carries none: 512 for dev, 256 for schnell. */
  public static int t5Length(FluxParams dit) {
    return dit.guidanceEmbed() ? TextEmbedder.DEV_T5_LENGTH : TextEmbedder.SCHNELL_T5_LENGTH;
  }

  /**
   * The dimensions of a model directory, from the same sources the pipeline loads it from: the
   * transformer's config.json or tensor shapes, the encoders' config.json, the autoencoder's config
   * or shapes, and T5's length from its tokenizer.json (or dev's 512, schnell's 256).
   */
  public static ModelDims read(ModelDirectory model) {
    FluxParams dit;
    try (TensorStore store = model.openTransformer()) {
      dit = FluxParams.infer(store, model.transformerConfig());
    }
    int t5Length;
    try (PromptTokenizer tokenizer = PromptTokenizer.t5(model.t5Tokenizer(), t5Length(dit))) {
      t5Length = tokenizer.maxLength();
    }
    return of(
        model.name(),
        dit,
        T5Config.read(model.t5()),
        t5Length,
        ClipTextConfig.read(model.clip()),
        model.vaeParams());
  }

  /**
   * How the transformer's blocks would sit on the device, from the dtypes the checkpoint really
   * stores (its header only): fp8 (plus one scale per matrix) when every matrix of every block is
   * float8, otherwise fp16 — bf16 and fp32 are computed in fp16 on the GPU, and a mixed checkpoint
   * (some block matrices float8, some not) is sized by its wider ones so that its plan is never
   * short.
   */
  public static StorageType ditStorage(ModelDirectory model) {
    try (TensorStore store = model.openTransformer()) {
      return ditStorage(store);
    }
  }

  /** As {@link #ditStorage(ModelDirectory)} for a transformer in BFL's names. */
  public static StorageType ditStorage(TensorStore dit) {
    boolean anyMatrix = false;
    for (String name : dit.names()) {
      boolean block = name.startsWith("double_blocks.") || name.startsWith("single_blocks.");
      if (!block || !name.endsWith(".weight")) {
        continue;
      }
      TensorEntry e = dit.entry(name);
      if (e.shape().length != 2) {
        continue;
      }
      anyMatrix = true;
      if (e.dtype() != DType.F8_E4M3 && e.dtype() != DType.F8_E5M2) {
        return StorageType.FP16;
      }
    }
    return anyMatrix ? StorageType.FP8 : StorageType.FP16;
  }
}
