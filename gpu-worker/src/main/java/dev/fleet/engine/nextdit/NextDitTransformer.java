package dev.fleet.engine.nextdit;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.RopeEmbedding;
import dev.fleet.engine.lora.DitLinears;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.nn.LayerNorm;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.RmsNorm;
import dev.fleet.engine.nn.Shapes;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.NextDitDims;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NewBie-image's diffusion transformer (NewBie's {@code NextDiT_CLIP.forward}, a Lumina-Image 2.0
 * Next-DiT with a pooled CLIP path) in NewBie's original checkpoint key names. All parameters stay
 * resident on the model's manager, or the streamable blocks (noise refiner and joint layers) placed
 * by a memory plan in a {@link BlockStore}; a forward pass allocates nothing on the model's
 * manager.
 *
 * <p>The pass: c = {@code time_text_embed(SiLU(cat[t_embedder(t),
 * clip_text_pooled_proj(pooled)]))}; caption rows through {@code cap_embedder} and the unmodulated
 * context refiner (keys masked); patch tokens ((ph, pw, C) features, C fastest) through {@code
 * x_embedder} and the modulated noise refiner; per sample the valid caption rows then the image
 * tokens, zero-padded to a common length, through the joint layers; the final layer on the image
 * rows, unpatchified.
 */
public final class NextDitTransformer implements AutoCloseable {
  /** Key prefix of the DiT in ComfyUI's single-file checkpoints. */
  public static final String COMFY_PREFIX = "model.diffusion_model";

  private static final LayerNorm FINAL_NORM = LayerNorm.plain(NextDitParams.FINAL_NORM_EPS);

  private final NextDitParams params;
  private final ComputeTarget target;
  private final NDManager manager;
  private final Linear timeIn;
  private final Linear timeOut;
  private final RmsNorm clipNorm;
  private final Linear clipProj;
  private final Linear timeText;
  private final RmsNorm capNorm;
  private final Linear capProj;
  private final Linear xEmbedder;
  private final List<NextDitBlock> contextRefiner;

  /** The noise-refiner then the joint blocks when they are all resident, else null. */
  private final List<NextDitBlock> streamable;

  /** The noise-refiner then the joint blocks when a memory plan places them, else null. */
  private final BlockStore store;

  /** Attention query rows per call in every block, 0 for all at once (a plan's chunk). */
  private final int attentionChunk;

  private final Linear finalModulation;
  private final Linear finalLinear;

  private NextDitTransformer(
      NextDitParams params,
      ComputeTarget target,
      NDManager manager,
      Linear[] embedders,
      RmsNorm clipNorm,
      RmsNorm capNorm,
      List<NextDitBlock> contextRefiner,
      List<NextDitBlock> streamable,
      BlockStore store,
      int attentionChunk) {
    this.params = params;
    this.target = target;
    this.manager = manager;
    this.timeIn = embedders[0];
    this.timeOut = embedders[1];
    this.clipProj = embedders[2];
    this.timeText = embedders[3];
    this.capProj = embedders[4];
    this.xEmbedder = embedders[5];
    this.finalModulation = embedders[6];
    this.finalLinear = embedders[7];
    this.clipNorm = clipNorm;
    this.capNorm = capNorm;
    this.contextRefiner = contextRefiner;
    this.streamable = streamable;
    this.store = store;
    this.attentionChunk = attentionChunk;
  }

  /**
   * Loads the whole model onto {@code weights.target()}'s device in its compute dtype (bf16 and
   * float8 files are widened as for FLUX). Every tensor is checked against the shape {@code params}
   * implies; a missing or misshapen one fails naming its key.
   *
   * @param weights the checkpoint in NewBie's key names, scoped past any prefix (see {@link
   *     #weightsOf})
   */
  public static NextDitTransformer load(Weights weights, NextDitParams params) {
    return load(weights, params, null, 0);
  }

  /**
   * Loads the model with its streamable blocks — the noise refiner's, then the joint layers', the
   * blocks a memory plan's {@code DitResidency} counts — in a {@link BlockStore}: the first {@code
   * residentBlocks} on the device, the others in host memory, streamed for their call; float8
   * matrices (the checkpoint's, or every block matrix narrowed when {@code float8} says so) kept as
   * bytes and widened per block. The embedders, the context refiner and the final layer are loaded
   * whole, in the compute dtype, on the model's manager; the store books its blocks in {@code
   * ledger}, the caller books the rest.
   *
   * @param weights as for {@link #load(Weights, NextDitParams)}; its store must outlive the model
   * @param attentionChunk query rows per attention call in every block (a plan's chunk, bounding
   *     the scores), 0 for all rows at once
   */
  public static NextDitTransformer load(
      Weights weights,
      NextDitParams params,
      int residentBlocks,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      BlockStore.Float8 float8,
      int attentionChunk) {
    if (residentBlocks < 0) {
      throw new IllegalArgumentException("resident blocks must be >= 0, got " + residentBlocks);
    }
    if (attentionChunk < 0) {
      throw new IllegalArgumentException(
          "attention chunk must be 0 (unchunked) or > 0 query rows, got " + attentionChunk);
    }
    List<BlockStore.Slot> slots = new ArrayList<>(params.nRefinerLayers() + params.nLayers());
    for (String name : streamableNames(params)) {
      slots.add(
          new BlockStore.Slot(
              name,
              slots.size() >= residentBlocks,
              (w, m) -> NextDitBlock.load(w, params, m, true)));
    }
    BlockStore store =
        BlockStore.load(weights, slots, ledger, hostToDevice, widener, false, float8);
    try {
      return load(weights, params, store, attentionChunk);
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
  }

  /** The streamable blocks' key prefixes in call order: noise refiner, then joint layers. */
  private static List<String> streamableNames(NextDitParams params) {
    List<String> names = new ArrayList<>(params.nRefinerLayers() + params.nLayers());
    for (int i = 0; i < params.nRefinerLayers(); i++) {
      names.add("noise_refiner." + i);
    }
    for (int i = 0; i < params.nLayers(); i++) {
      names.add("layers." + i);
    }
    return names;
  }

  /** Loads everything but the streamable blocks, and those too when {@code store} is null. */
  private static NextDitTransformer load(
      Weights weights, NextDitParams params, BlockStore store, int attentionChunk) {
    return load(ParameterLoader.of(weights), weights.target(), params, store, attentionChunk);
  }

  /**
   * Every parameter the model loads, by key in load order, with its shape: the layout a checkpoint
   * of {@code params} must hold, recorded by running the loading code itself with a loader that
   * hands out a one-element placeholder (nothing of the model's size is allocated). A checkpoint
   * may hold more ({@code norm_final.weight}, never read).
   */
  public static Map<String, long[]> parameterShapes(NextDitParams params) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    try (NDManager placeholders = NDManager.newBaseManager(Device.cpu())) {
      NDArray placeholder = placeholders.zeros(new Shape(1));
      ParameterLoader recorder =
          (key, m, shape) -> {
            shapes.put(key, shape.clone());
            return placeholder;
          };
      load(recorder, ComputeTarget.cpu(), params, null, 0).manager.close();
    }
    return shapes;
  }

  private static NextDitTransformer load(
      ParameterLoader w,
      ComputeTarget target,
      NextDitParams params,
      BlockStore store,
      int attentionChunk) {
    NDManager m = NDManager.newBaseManager(target.device());
    try {
      int a = params.adalnDim();
      int d = params.dim();
      Linear[] embedders = {
        linear(w, "t_embedder.mlp.0", m, a, NextDitParams.TIME_FREQ_DIM),
        linear(w, "t_embedder.mlp.2", m, a, a),
        linear(w, "clip_text_pooled_proj.1", m, a, params.clipTextDim()),
        linear(w, "time_text_embed.1", m, a, 2L * a),
        linear(w, "cap_embedder.1", m, d, params.capFeatDim()),
        linear(w, "x_embedder", m, d, params.patchDim()),
        linear(w, "final_layer.adaLN_modulation.1", m, d, a),
        linear(w, "final_layer.linear", m, params.patchDim(), d)
      };
      RmsNorm clipNorm =
          new RmsNorm(
              w.load("clip_text_pooled_proj.0.weight", m, params.clipTextDim()),
              NextDitParams.QK_NORM_EPS);
      RmsNorm capNorm =
          new RmsNorm(w.load("cap_embedder.0.weight", m, params.capFeatDim()), params.normEps());
      List<NextDitBlock> context = new ArrayList<>();
      for (int i = 0; i < params.nRefinerLayers(); i++) {
        context.add(NextDitBlock.load(w.scoped("context_refiner." + i), params, m, false));
      }
      List<NextDitBlock> streamable = null;
      if (store == null) {
        streamable = new ArrayList<>();
        for (String name : streamableNames(params)) {
          streamable.add(NextDitBlock.load(w.scoped(name), params, m, true));
        }
      }
      return new NextDitTransformer(
          params,
          target,
          m,
          embedders,
          clipNorm,
          capNorm,
          context,
          streamable,
          store,
          attentionChunk);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /**
   * The view of a DiT checkpoint in NewBie's key names, whichever of the {@link NextDitKeyLayout}s
   * it is in (the store itself, its {@value #COMFY_PREFIX} part, or diffusers' names mapped back).
   * The caller keeps closing {@code store}.
   *
   * @throws dev.fleet.engine.checkpoint.UnrecognisedCheckpointException when it is in none
   */
  public static Weights weightsOf(TensorStore store, ComputeTarget target) {
    return new Weights(NextDitKeyLayout.inNewbieNames(store), target);
  }

  private static Linear linear(ParameterLoader w, String name, NDManager m, long out, long in) {
    return new Linear(w.load(name + ".weight", m, out, in), w.load(name + ".bias", m, out));
  }

  public NextDitParams params() {
    return params;
  }

  public ComputeTarget target() {
    return target;
  }

  /** The manager of the parameters (tests {@code cap()} it). */
  public NDManager manager() {
    return manager;
  }

  /**
   * One velocity prediction ({@code NextDiT_CLIP.forward}).
   *
   * @param x (B, C, H, W) latents, H and W multiples of the patch size
   * @param t (B) model time in [0, 1] (0 = noise, 1 = data)
   * @param capFeats (B, Lc, cap_feat_dim) caption features (Gemma's hidden_states[-2])
   * @param capMask (B, Lc) integer mask, 1 for the first cap_len rows of each sample
   * @param pooled (B, clip_text_dim) pooled Jina text vector
   * @return (B, C, H, W) the velocity (data minus noise direction), in x's dtype on x's manager
   */
  public NDArray forward(NDArray x, NDArray t, NDArray capFeats, NDArray capMask, NDArray pooled) {
    return forward(x, t, capFeats, capMask, pooled, Adapters.NONE);
  }

  /**
   * One velocity prediction with LoRA side paths beside the linear layers they name (NewBie's
   * names, as {@link #loraLayers} lists them); every other argument as for {@link #forward(NDArray,
   * NDArray, NDArray, NDArray, NDArray)}. Each streamable block is adapted when it is leased, so
   * resident, streamed and float8 blocks take the same side paths, in the compute dtype, and no
   * weight is changed.
   */
  public NDArray forward(
      NDArray x, NDArray t, NDArray capFeats, NDArray capMask, NDArray pooled, Adapters adapters) {
    Shape xs = x.getShape();
    int p = params.patchSize();
    if (xs.dimension() != 4
        || xs.get(1) != params.inChannels()
        || xs.get(2) % p != 0
        || xs.get(3) % p != 0) {
      throw new IllegalArgumentException(
          "x must have shape (B, "
              + params.inChannels()
              + ", H, W) with H and W multiples of "
              + p
              + ", got "
              + xs);
    }
    int b = (int) xs.get(0);
    Shapes.require("t", t, b);
    Shapes.require("cap_feats", capFeats, b, -1, params.capFeatDim());
    int lc = (int) capFeats.getShape().get(1);
    Shapes.require("cap_mask", capMask, b, lc);
    Shapes.require("clip_text_pooled", pooled, b, params.clipTextDim());
    int c = (int) xs.get(1);
    int hp = (int) xs.get(2) / p;
    int wp = (int) xs.get(3) / p;
    int nImg = hp * wp;
    DataType dtype = target.dtype();

    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x, t, capFeats, capMask, pooled);
      int[] capLen = captionLengths(capMask, lc);
      int maxCap = 0;
      for (int cl : capLen) {
        maxCap = Math.max(maxCap, cl);
      }
      int seq = maxCap + nImg;
      NDArray cond = conditioning(t, pooled.toType(dtype, false), dtype, adapters);

      NDArray cap =
          adapters
              .adapt(capProj, "cap_embedder.1")
              .forward(capNorm.forward(capFeats.toType(dtype, false)));
      NDArray img =
          adapters
              .adapt(xEmbedder, "x_embedder")
              .forward(
                  x.toType(dtype, false)
                      .reshape(b, c, hp, p, wp, p)
                      .transpose(0, 2, 4, 3, 5, 1)
                      .reshape(b, nImg, (long) p * p * c));

      // RoPE tables: caption rows (i, 0, 0), image tokens (cap_len, r, c), padding (0, 0, 0);
      // caption rows past cap_len get no rotation at all in the context refiner.
      int[] jointPos = new int[b * seq * 3];
      int[] capPos = new int[b * lc * 3];
      boolean[] capZero = new boolean[b * lc];
      int[] imgPos = new int[b * nImg * 3];
      float[] jointBias = new float[b * seq];
      for (int i = 0; i < b; i++) {
        int cl = capLen[i];
        for (int r = 0; r < lc; r++) {
          capPos[(i * lc + r) * 3] = r;
          capZero[i * lc + r] = r >= cl;
        }
        for (int r = 0; r < cl; r++) {
          jointPos[(i * seq + r) * 3] = r;
        }
        for (int k = 0; k < nImg; k++) {
          int[] at = {cl, k / wp, k % wp};
          System.arraycopy(at, 0, imgPos, (i * nImg + k) * 3, 3);
          System.arraycopy(at, 0, jointPos, (i * seq + cl + k) * 3, 3);
        }
        for (int r = cl + nImg; r < seq; r++) {
          jointBias[i * seq + r] = -Float.MAX_VALUE;
        }
      }
      List<Integer> axes = params.axesDims();
      RopeEmbedding capRope = AxisRope.table(scope, capPos, capZero, b, lc, axes);
      RopeEmbedding imgRope = AxisRope.table(scope, imgPos, null, b, nImg, axes);
      RopeEmbedding jointRope = AxisRope.table(scope, jointPos, null, b, seq, axes);
      NDArray capBias =
          capMask
              .toType(DataType.FLOAT32, false)
              .sub(1f)
              .mul(Float.MAX_VALUE)
              .reshape(b, 1, 1, lc)
              .toType(dtype, false);
      NDArray jointKeyBias = scope.create(jointBias, new Shape(b, 1, 1, seq)).toType(dtype, false);

      // Each block's input is dead once it has run: free it rather than at the end of the pass.
      for (int i = 0; i < contextRefiner.size(); i++) {
        NDArray next =
            contextRefiner
                .get(i)
                .adapted(adapters, "context_refiner." + i)
                .forward(cap, capRope, capBias, null, attentionChunk);
        cap.close();
        cap = next;
      }
      int refiners = params.nRefinerLayers();
      for (int i = 0; i < refiners; i++) {
        NDArray next;
        try (BlockLease<NextDitBlock> block = block(i)) {
          next =
              block
                  .block()
                  .adapted(adapters, "noise_refiner." + i)
                  .forward(img, imgRope, null, cond, attentionChunk);
        }
        img.close();
        img = next;
      }
      NDList rows = new NDList(b);
      for (int i = 0; i < b; i++) {
        NDList parts = new NDList();
        parts.add(cap.get(new NDIndex("{}, :{}", i, capLen[i])));
        parts.add(img.get(new NDIndex("{}", i)));
        if (capLen[i] < maxCap) {
          parts.add(scope.zeros(new Shape(maxCap - capLen[i], params.dim()), dtype));
        }
        rows.add(NDArrays.concat(parts, 0));
      }
      NDArray h = NDArrays.stack(rows, 0); // (B, S, D)
      cap.close();
      img.close();
      for (int i = 0; i < params.nLayers(); i++) {
        NDArray next;
        try (BlockLease<NextDitBlock> block = block(refiners + i)) {
          next =
              block
                  .block()
                  .adapted(adapters, "layers." + i)
                  .forward(h, jointRope, jointKeyBias, cond, attentionChunk);
        }
        h.close();
        h = next;
      }

      NDArray scale =
          adapters
              .adapt(finalModulation, "final_layer.adaLN_modulation.1")
              .forward(Activations.silu(cond))
              .add(1f)
              .expandDims(1);
      h =
          adapters
              .adapt(finalLinear, "final_layer.linear")
              .forward(FINAL_NORM.forward(h).mul(scale)); // (B, S, p·p·C)
      NDList outRows = new NDList(b);
      for (int i = 0; i < b; i++) {
        outRows.add(h.get(new NDIndex("{}, {}:{}", i, capLen[i], capLen[i] + nImg)));
      }
      NDArray out =
          NDArrays.stack(outRows, 0)
              .reshape(b, hp, wp, p, p, c)
              .transpose(0, 5, 1, 3, 2, 4)
              .reshape(xs)
              .toType(x.getDataType(), false);
      return scope.ret(out);
    }
  }

  /**
   * c = {@code time_text_embed.1(SiLU(cat[t_emb, clip_emb]))}, t_emb from the 256-wide [cos, sin]
   * time features (t not scaled by 1000).
   */
  private NDArray conditioning(NDArray t, NDArray pooled, DataType dtype, Adapters a) {
    int half = NextDitParams.TIME_FREQ_DIM / 2;
    NDManager m = t.getManager();
    NDArray omega =
        m.arange(0, half, 1, DataType.FLOAT32)
            .toDevice(t.getDevice(), false)
            .mul((float) -Math.log(10000))
            .div(half)
            .exp();
    NDArray args = t.toType(DataType.FLOAT32, false).expandDims(1).mul(omega.expandDims(0));
    NDArray freq = args.cos().concat(args.sin(), 1).toType(dtype, false);
    NDArray tEmb =
        a.adapt(timeOut, "t_embedder.mlp.2")
            .forward(Activations.silu(a.adapt(timeIn, "t_embedder.mlp.0").forward(freq)));
    NDArray clipEmb =
        a.adapt(clipProj, "clip_text_pooled_proj.1").forward(clipNorm.forward(pooled));
    return a.adapt(timeText, "time_text_embed.1")
        .forward(Activations.silu(tEmb.concat(clipEmb, 1)));
  }

  /**
   * The linear layers of a Next-DiT of {@code p} that LoRA adapters may adapt, by the names {@link
   * #forward(NDArray, NDArray, NDArray, NDArray, NDArray, Adapters)} asks side paths for: the
   * embedders, every refiner and joint block's {@code attention.qkv}, {@code attention.out}, {@code
   * feed_forward.w1/w2/w3} and (modulated blocks) {@code adaLN_modulation.1}, and the final layer.
   */
  public static DitLinears loraLayers(NextDitParams p) {
    return loraLayers(p.dims());
  }

  /** As {@link #loraLayers(NextDitParams)}, from the planner's view of the dimensions. */
  public static DitLinears loraLayers(NextDitDims p) {
    int a = p.adalnDim();
    int d = p.dim();
    int f = p.ffnDim();
    int qkv = (p.heads() + 2 * p.kvHeads()) * p.headDim();
    int attended = p.heads() * p.headDim();
    Map<String, int[]> s = new LinkedHashMap<>();
    s.put("x_embedder", new int[] {d, p.patchDim()});
    s.put("t_embedder.mlp.0", new int[] {a, NextDitDims.TIME_FREQ_DIM});
    s.put("t_embedder.mlp.2", new int[] {a, a});
    s.put("clip_text_pooled_proj.1", new int[] {a, p.clipTextDim()});
    s.put("time_text_embed.1", new int[] {a, 2 * a});
    s.put("cap_embedder.1", new int[] {d, p.capFeatDim()});
    s.put("final_layer.adaLN_modulation.1", new int[] {d, a});
    s.put("final_layer.linear", new int[] {p.patchDim(), d});
    List<String> blocks = new ArrayList<>();
    for (int i = 0; i < p.refinerLayers(); i++) {
      blocks.add("context_refiner." + i);
    }
    for (int i = 0; i < p.refinerLayers(); i++) {
      blocks.add("noise_refiner." + i);
    }
    for (int i = 0; i < p.layers(); i++) {
      blocks.add("layers." + i);
    }
    for (String b : blocks) {
      s.put(b + ".attention.qkv", new int[] {qkv, d});
      s.put(b + ".attention.out", new int[] {d, attended});
      s.put(b + ".feed_forward.w1", new int[] {f, d});
      s.put(b + ".feed_forward.w2", new int[] {d, f});
      s.put(b + ".feed_forward.w3", new int[] {f, d});
      if (!b.startsWith("context_refiner.")) {
        s.put(b + ".adaLN_modulation.1", new int[] {4 * d, a});
      }
    }
    return DitLinears.of(
        "NewBie-image (Next-DiT: "
            + p.layers()
            + " joint layers, "
            + p.refinerLayers()
            + " noise- and context-refiner blocks, hidden "
            + d
            + ")",
        s);
  }

  /** Each sample's caption length: the sum of its mask row. */
  private static int[] captionLengths(NDArray capMask, int lc) {
    long[] mask = capMask.toType(DataType.INT64, false).toLongArray();
    int[] out = new int[mask.length / Math.max(lc, 1)];
    for (int i = 0; i < out.length; i++) {
      int sum = 0;
      for (int j = 0; j < lc; j++) {
        sum += (int) mask[i * lc + j];
      }
      out[i] = sum;
    }
    return out;
  }

  /** Streamable block {@code i} (noise refiner first, then the joint layers) for one call. */
  private BlockLease<NextDitBlock> block(int i) {
    return store != null
        ? store.lease(i, NextDitBlock.class)
        : BlockLease.resident(streamable.get(i));
  }

  /** Drops a prefetched block copy that no call will claim (after a failed forward pass). */
  public void cancelPrefetch() {
    if (store != null) {
      store.cancelPrefetch();
    }
  }

  /** The plan's block store, or null when every block is resident on the model's manager. */
  public BlockStore blocks() {
    return store;
  }

  /** Frees the parameters. */
  @Override
  public void close() {
    try {
      manager.close();
    } finally {
      if (store != null) {
        store.close();
      }
    }
  }
}
