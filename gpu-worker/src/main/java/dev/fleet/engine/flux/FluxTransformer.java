package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.Linear;
import dev.fleet.engine.nn.ParameterLoader;
import dev.fleet.engine.nn.Shapes;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.DitDims;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The FLUX.1 diffusion transformer (BFL's {@code Flux} in {@code model.py}) in the BFL key layout.
 * The embedders and the output head stay on the model's manager; the blocks come from a {@link
 * BlockSource}, so that a memory plan decides where each block lives. Nothing is allocated on the
 * model's manager during a forward pass.
 */
public final class FluxTransformer implements AutoCloseable {
  /** Width of the sinusoidal timestep and guidance embeddings. */
  private final FluxParams params;

  private final ComputeTarget target;
  private final NDManager manager;
  private final Linear imgIn;
  private final Linear txtIn;
  private final MlpEmbedder timeIn;
  private final MlpEmbedder vectorIn;
  private final MlpEmbedder guidanceIn;
  private final LastLayer finalLayer;
  private final BlockSource blocks;
  private final AttentionKernel kernel;
  private final BlockKernel blockKernel;

  private FluxTransformer(
      FluxParams params,
      ComputeTarget target,
      NDManager manager,
      Linear imgIn,
      Linear txtIn,
      MlpEmbedder timeIn,
      MlpEmbedder vectorIn,
      MlpEmbedder guidanceIn,
      LastLayer finalLayer,
      BlockSource blocks,
      AttentionKernel kernel,
      BlockKernel blockKernel) {
    this.params = params;
    this.target = target;
    this.manager = manager;
    this.imgIn = imgIn;
    this.txtIn = txtIn;
    this.timeIn = timeIn;
    this.vectorIn = vectorIn;
    this.guidanceIn = guidanceIn;
    this.finalLayer = finalLayer;
    this.blocks = blocks;
    this.kernel = kernel;
    this.blockKernel = blockKernel;
  }

  /**
   * Loads the whole model onto {@code weights.target()}'s device, every block resident, with DJL's
   * eager attention.
   */
  public static FluxTransformer load(Weights weights, FluxParams params) {
    return load(
        weights, params, m -> ResidentBlocks.load(weights, params, m), AttentionKernel.EAGER);
  }

  /**
   * Loads the embedders and the output head onto {@code weights.target()}'s device and takes the
   * blocks from {@code blocks}, which the model then owns (closes).
   *
   * @param blocks given the model's manager, the block source (may load onto that manager, as
   *     {@link ResidentBlocks} does, or ignore it)
   * @param kernel the attention operation
   */
  public static FluxTransformer load(
      Weights weights,
      FluxParams params,
      Function<NDManager, BlockSource> blocks,
      AttentionKernel kernel) {
    return load(weights, params, blocks, kernel, BlockKernel.DJL);
  }

  /**
   * As {@link #load(Weights, FluxParams, Function, AttentionKernel)}, the blocks computed by {@code
   * blockKernel} (whose {@link BlockKernel#takesStoredWeights()} the block source must honour).
   */
  public static FluxTransformer load(
      Weights weights,
      FluxParams params,
      Function<NDManager, BlockSource> blocks,
      AttentionKernel kernel,
      BlockKernel blockKernel) {
    ComputeTarget target = weights.target();
    ParameterLoader w = ParameterLoader.of(weights);
    NDManager m = NDManager.newBaseManager(target.device());
    BlockSource source = null;
    try {
      int hidden = params.dims().hiddenSize();
      Linear imgIn = ShapedLoad.linear(w, "img_in", m, hidden, params.dims().inChannels(), true);
      Linear txtIn = ShapedLoad.linear(w, "txt_in", m, hidden, params.dims().contextInDim(), true);
      MlpEmbedder timeIn = MlpEmbedder.load(w, "time_in", m, DitDims.TIME_EMBED_DIM, hidden);
      MlpEmbedder vectorIn = MlpEmbedder.load(w, "vector_in", m, params.dims().vecInDim(), hidden);
      MlpEmbedder guidanceIn =
          params.dims().guidanceEmbed()
              ? MlpEmbedder.load(w, "guidance_in", m, DitDims.TIME_EMBED_DIM, hidden)
              : null;
      LastLayer finalLayer = LastLayer.load(w, "final_layer", m, params);
      source = blocks.apply(m);
      return new FluxTransformer(
          params,
          target,
          m,
          imgIn,
          txtIn,
          timeIn,
          vectorIn,
          guidanceIn,
          finalLayer,
          source,
          kernel,
          blockKernel);
    } catch (RuntimeException e) {
      if (source != null) {
        source.close();
      }
      m.close();
      throw e;
    }
  }

  public FluxParams params() {
    return params;
  }

  public ComputeTarget target() {
    return target;
  }

  /** The manager of the resident parameters (tests {@code cap()} it). */
  public NDManager manager() {
    return manager;
  }

  /**
   * One prediction of the flow (BFL's {@code Flux.forward}). Inputs must be on the compute device;
   * float inputs of any precision are cast to the compute dtype, positions and times are used in
   * float32.
   *
   * @param img (B, L, in_channels) packed latent tokens
   * @param imgIds (B, L, 3) image token positions
   * @param txt (B, T, context_in_dim) T5 hidden states
   * @param txtIds (B, T, 3) text token positions (zeros in FLUX.1)
   * @param y (B, vec_in_dim) pooled CLIP vector
   * @param timesteps (B) flow-matching time in [0, 1]
   * @param guidance (B) distilled guidance strength; required when {@code guidance_embed}, ignored
   *     otherwise (as BFL does)
   * @return (B, L, out_channels) in img's dtype, on img's manager
   */
  public NDArray forward(
      NDArray img,
      NDArray imgIds,
      NDArray txt,
      NDArray txtIds,
      NDArray y,
      NDArray timesteps,
      NDArray guidance) {
    return forward(img, imgIds, txt, txtIds, y, timesteps, guidance, Adapters.NONE);
  }

  /**
   * {@link #forward(NDArray, NDArray, NDArray, NDArray, NDArray, NDArray, NDArray)} with LoRA side
   * paths on the linear layers they name: the embedders', the head's and every block's as it is
   * leased, whatever the block source. The model's own parameters are not changed.
   */
  public NDArray forward(
      NDArray img,
      NDArray imgIds,
      NDArray txt,
      NDArray txtIds,
      NDArray y,
      NDArray timesteps,
      NDArray guidance,
      Adapters adapters) {
    long b = img.getShape().get(0);
    Shapes.require("img", img, b, -1, params.dims().inChannels());
    long l = img.getShape().get(1);
    Shapes.require("txt", txt, b, -1, params.dims().contextInDim());
    long t = txt.getShape().get(1);
    Shapes.require("img_ids", imgIds, b, l, params.axesDim().size());
    Shapes.require("txt_ids", txtIds, b, t, params.axesDim().size());
    Shapes.require("y", y, b, params.dims().vecInDim());
    Shapes.require("timesteps", timesteps, b);
    if (params.dims().guidanceEmbed()) {
      if (guidance == null) {
        throw new IllegalArgumentException(
            "guidance is required: this model is guidance-distilled (guidance_embed=true)");
      }
      Shapes.require("guidance", guidance, b);
    }
    List<NDArray> inputs = new ArrayList<>(List.of(img, imgIds, txt, txtIds, y, timesteps));
    if (guidanceIn != null) {
      inputs.add(guidance);
    }
    for (NDArray x : inputs) {
      if (!x.getDevice().equals(target.device())) {
        throw new IllegalArgumentException(
            "input on " + x.getDevice() + " but the model computes on " + target.device());
      }
    }

    try (NDManager scope = NDManager.subManagerOf(img)) {
      scope.tempAttachAll(inputs.toArray(NDArray[]::new));
      DataType dtype = target.dtype();
      NDArray vec =
          timeIn
              .adapted(adapters, "time_in")
              .forward(
                  TimestepEmbedding.embed(timesteps, DitDims.TIME_EMBED_DIM).toType(dtype, false));
      if (guidanceIn != null) {
        vec =
            vec.add(
                guidanceIn
                    .adapted(adapters, "guidance_in")
                    .forward(
                        TimestepEmbedding.embed(guidance, DitDims.TIME_EMBED_DIM)
                            .toType(dtype, false)));
      }
      vec =
          vec.add(
              vectorIn
                  .adapted(adapters, "vector_in")
                  .forward(y.toType(dtype, false))); // (B, hidden)
      NDArray x =
          adapters.adapt(imgIn, "img_in").forward(img.toType(dtype, false)); // (B, L, hidden)
      NDArray c =
          adapters.adapt(txtIn, "txt_in").forward(txt.toType(dtype, false)); // (B, T, hidden)

      NDArray ids =
          txtIds.toType(DataType.FLOAT32, false).concat(imgIds.toType(DataType.FLOAT32, false), 1);
      FluxAttention attention =
          new FluxAttention(RopeEmbedding.of(ids, params.axesDim(), params.theta()), kernel);

      for (int i = 0; i < params.dims().depth(); i++) {
        try (BlockLease<DoubleStreamBlock> lease = blocks.doubleBlock(i)) {
          NDList out =
              blockKernel.doubleBlock(
                  lease.block().adapted(adapters, "double_blocks." + i),
                  lease.weightScales(),
                  x,
                  c,
                  vec,
                  attention);
          // The previous activations are dead: free them now rather than at the end of the pass.
          x.close();
          c.close();
          x = out.get(0);
          c = out.get(1);
        }
      }
      NDArray joint = c.concat(x, 1); // (B, T+L, hidden)
      x.close();
      c.close();
      for (int i = 0; i < params.dims().depthSingleBlocks(); i++) {
        try (BlockLease<SingleStreamBlock> lease = blocks.singleBlock(i)) {
          NDArray out =
              blockKernel.singleBlock(
                  lease.block().adapted(adapters, "single_blocks." + i),
                  lease.weightScales(),
                  joint,
                  vec,
                  attention);
          joint.close();
          joint = out;
        }
      }
      NDArray imgTokens = joint.get(":, {}:", t); // (B, L, hidden)
      NDArray out =
          finalLayer
              .adapted(adapters, "final_layer")
              .forward(imgTokens, vec)
              .toType(img.getDataType(), false);
      return scope.ret(out);
    }
  }

  /** Frees the resident parameters and the block source. */
  @Override
  public void close() {
    blocks.close();
    manager.close();
  }
}
