package dev.fleet.engine.model;

import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.text.ClipTextConfig;
import dev.fleet.engine.text.T5Config;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.model.memory.DitDims;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.model.memory.StorageType;
import dev.fleet.model.memory.StoredBlocks;
import java.util.HashMap;
import java.util.Map;

/**
 * The memory planner's view ({@link FluxDims}) of the engine's configurations: of a model
 * directory, read as the pipeline reads it (a synthetic shape gives its own: {@code
 * ModelShape.dims}).
 */
public final class ModelDimsReader {
  private ModelDimsReader() {}

  /**
   * The dimensions of a model directory, from the same sources the pipeline loads it from: the
   * transformer's config.json or tensor shapes, the encoders' config.json, the autoencoder's config
   * or shapes, and T5's length from its tokenizer.json (or dev's 512, schnell's 256).
   */
  public static FluxDims read(ModelDirectory model) {
    DitDims dit;
    try (TensorStore store = model.openTransformer()) {
      dit = FluxParams.infer(store, model.transformerConfig()).dims();
    }
    int t5Length;
    try (PromptTokenizer tokenizer =
        PromptTokenizer.t5(model.t5Tokenizer(), FluxDims.defaultTextTokens(dit))) {
      t5Length = tokenizer.maxLength();
    }
    return new FluxDims(
        model.name(),
        dit,
        T5Config.read(model.t5()).dims(),
        t5Length,
        ClipTextConfig.read(model.clip()).dims(),
        model.vaeParams().dims());
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

  /**
   * The transformer's blocks as its checkpoint stores them (header only), for the memory model to
   * size them exactly: float8 weights one byte each plus a float32 scale per float8 matrix,
   * everything else in fp16 (the GPU's compute dtype), the largest block of each kind.
   */
  public static StoredBlocks storedBlocks(ModelDirectory model) {
    try (TensorStore store = model.openTransformer()) {
      return storedBlocks(store);
    }
  }

  /** As {@link #storedBlocks(ModelDirectory)} for a transformer in BFL's names. */
  public static StoredBlocks storedBlocks(TensorStore dit) {
    Map<String, long[]> blocks = new HashMap<>(); // block name -> {bytes, float8 params}
    for (String name : dit.names()) {
      String block = blockOf(name);
      if (block == null) {
        continue;
      }
      TensorEntry e = dit.entry(name);
      long[] b = blocks.computeIfAbsent(block, k -> new long[2]);
      if (e.dtype().isFloat8()) {
        b[0] += e.elements() + (e.shape().length == 2 ? MemoryModel.FP8_SCALE_BYTES : 0);
        b[1] += e.elements();
      } else {
        b[0] += e.elements() * StorageType.COMPUTE.bytes();
      }
    }
    long[] dbl = new long[2];
    long[] sgl = new long[2];
    for (var e : blocks.entrySet()) {
      long[] max = e.getKey().startsWith("double_blocks.") ? dbl : sgl;
      max[0] = Math.max(max[0], e.getValue()[0]);
      max[1] = Math.max(max[1], e.getValue()[1]);
    }
    return new StoredBlocks(dbl[0], sgl[0], dbl[1], sgl[1]);
  }

  /** {@code double_blocks.N} or {@code single_blocks.N} of a key, or null outside the blocks. */
  private static String blockOf(String name) {
    for (String kind : new String[] {"double_blocks.", "single_blocks."}) {
      if (name.startsWith(kind)) {
        int dot = name.indexOf('.', kind.length());
        return dot < 0 ? null : name.substring(0, dot);
      }
    }
    return null;
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
      if (!e.dtype().isFloat8()) {
        return StorageType.FP16;
      }
    }
    return anyMatrix ? StorageType.FP8 : StorageType.FP16;
  }
}
