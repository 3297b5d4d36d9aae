package dev.fleet.engine.gpu;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The small TorchScript modules that reach what DJL's own ops lack on a GPU: fused attention,
 * page-locked host memory, copies on a side stream, float8. They are scripted and saved by {@code
 * gpu-worker/torchscript/make_helpers.py} with the PyTorch of the GPU machine and ship as
 * class-path resources; float8 tensors they make stay opaque to DJL (it reports their dtype as
 * unknown) and only ever go back into these modules.
 */
public final class TorchScriptHelpers implements AutoCloseable {
  private static final String RESOURCES = "/dev/fleet/engine/gpu/";

  private final PtNDManager manager;
  private final Map<String, PtSymbolBlock> modules = new HashMap<>();
  private final long deviceIndex;

  private TorchScriptHelpers(PtNDManager manager) {
    this.manager = manager;
    this.deviceIndex = Math.max(0, manager.getDevice().getDeviceId());
  }

  /** True when the helper archives are on the class path (they are made on a GPU machine). */
  public static boolean available() {
    return TorchScriptHelpers.class.getResource(RESOURCES + "sdpa.pt") != null;
  }

  /** Loads the helpers for a device; they are freed with {@link #close()}. */
  public static TorchScriptHelpers load(Device device) {
    if (!available()) {
      throw new IllegalStateException(
          "TorchScript helpers are missing from the class path (" + RESOURCES + "*.pt)");
    }
    return new TorchScriptHelpers((PtNDManager) NDManager.newBaseManager(device, "PyTorch"));
  }

  private PtSymbolBlock module(String name) {
    return modules.computeIfAbsent(
        name,
        n -> {
          try (InputStream in =
              TorchScriptHelpers.class.getResourceAsStream(RESOURCES + n + ".pt")) {
            if (in == null) {
              throw new IllegalStateException(
                  "missing TorchScript helper " + RESOURCES + n + ".pt");
            }
            PtSymbolBlock block = JniUtils.loadModule(manager, in, true, false);
            return block;
          } catch (IOException e) {
            throw new UncheckedIOException("cannot load TorchScript helper " + n, e);
          }
        });
  }

  /** softmax(q k^T / sqrt(d)) v, fused: (B, H, L, D) in, (B, H, L, D) out on q's manager. */
  public NDArray sdpa(NDArray q, NDArray k, NDArray v) {
    IValue[] in = {
      IValue.from((PtNDArray) q), IValue.from((PtNDArray) k), IValue.from((PtNDArray) v)
    };
    try (IValue out = module("sdpa").forward(in)) {
      return out.toTensor((PtNDManager) q.getManager());
    } finally {
      closeAll(in);
    }
  }

  /** True when the whole-block modules are on the class path too (made by the same script). */
  public static boolean blocksAvailable() {
    return TorchScriptHelpers.class.getResource(RESOURCES + "double_block.pt") != null;
  }

  /**
   * One FLUX double-stream block computed by a TorchScript module ({@code DoubleBlock} of {@code
   * make_helpers.py}): each float8 matrix widened right before its matmul, or multiplied in float8
   * through {@code torch._scaled_mm} when {@code fp8Matmul}.
   *
   * @param weights the block's parameters by checkpoint name relative to the block, plus optional
   *     {@code NAME.weight_scale} and {@code NAME.lora_down}/{@code NAME.lora_up} entries
   * @param cos RoPE (B, 1, T+L, D/2) float32
   * @param sin RoPE (B, 1, T+L, D/2) float32
   * @return the new img and txt on img's manager
   */
  public NDList doubleBlock(
      boolean fp8Matmul,
      Map<String, NDArray> weights,
      NDArray img,
      NDArray txt,
      NDArray vec,
      NDArray cos,
      NDArray sin,
      int heads) {
    IValue[] in = {
      tensorMap(weights),
      IValue.from((PtNDArray) img),
      IValue.from((PtNDArray) txt),
      IValue.from((PtNDArray) vec),
      IValue.from((PtNDArray) cos),
      IValue.from((PtNDArray) sin),
      IValue.from((long) heads)
    };
    PtNDManager owner = (PtNDManager) img.getManager();
    try (IValue out = forward(fp8Matmul ? "double_block_fp8" : "double_block", fp8Matmul, in)) {
      IValue[] pair = out.toIValueTuple();
      try {
        return new NDList(pair[0].toTensor(owner), pair[1].toTensor(owner));
      } finally {
        closeAll(pair);
      }
    } finally {
      closeAll(in);
    }
  }

  /**
   * One FLUX single-stream block computed by a TorchScript module ({@code SingleBlock}), as {@link
   * #doubleBlock}.
   *
   * @return the new joint sequence on x's manager
   */
  public NDArray singleBlock(
      boolean fp8Matmul,
      Map<String, NDArray> weights,
      NDArray x,
      NDArray vec,
      NDArray cos,
      NDArray sin,
      int heads) {
    IValue[] in = {
      tensorMap(weights),
      IValue.from((PtNDArray) x),
      IValue.from((PtNDArray) vec),
      IValue.from((PtNDArray) cos),
      IValue.from((PtNDArray) sin),
      IValue.from((long) heads)
    };
    try (IValue out = forward(fp8Matmul ? "single_block_fp8" : "single_block", fp8Matmul, in)) {
      return out.toTensor((PtNDManager) x.getManager());
    } finally {
      closeAll(in);
    }
  }

  /**
   * Runs a module; with {@code float8} the TorchScript graph optimizer is off for the call (it is
   * per thread): its fuser would compile the float8 cast into a CUDA kernel that NVRTC cannot build
   * ("identifier float8_e4m3fn is undefined"). DJL's own switch for it applies only to its
   * NDList-based forward, not to these IValue calls.
   */
  private IValue forward(String name, boolean float8, IValue... in) {
    PtSymbolBlock block = module(name);
    if (!float8) {
      return block.forward(in);
    }
    JniUtils.setGraphExecutorOptimize(false);
    try {
      return block.forward(in);
    } finally {
      JniUtils.setGraphExecutorOptimize(true);
    }
  }

  private static IValue tensorMap(Map<String, NDArray> weights) {
    Map<String, PtNDArray> pt = new LinkedHashMap<>();
    weights.forEach((k, v) -> pt.put(k, (PtNDArray) v));
    return IValue.stringMapFrom(pt);
  }

  /** Exactly representable values to an opaque float8 tensor in page-locked host memory. */
  public NDArray toFp8Pinned(NDArray exact, NDManager owner) {
    return single("to_fp8_pinned", owner, IValue.from((PtNDArray) exact));
  }

  /** A host tensor copied into page-locked memory. */
  public NDArray pin(NDArray host, NDManager owner) {
    return single("pin_host", owner, IValue.from((PtNDArray) host));
  }

  /** Random N(0, std) weights rounded to e4m3, made on the GPU, kept pinned on the host. */
  public NDArray randomFp8Pinned(long rows, long cols, double std, NDManager owner) {
    return single(
        "random_fp8_pinned",
        owner,
        IValue.from(rows),
        IValue.from(cols),
        IValue.from(std),
        IValue.from(deviceIndex));
  }

  /** Device float8 tensors to float16 (exact). */
  public NDList widen(NDList float8, NDManager owner) {
    PtNDArray[] arrays = float8.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new);
    IValue list = IValue.listFrom(arrays);
    try (IValue out = module("widen").forward(list)) {
      return out.toNDList((PtNDManager) owner);
    } finally {
      list.close();
    }
  }

  /** Waits until the device has finished everything queued so far. */
  public void synchronize() {
    IValue in = IValue.from(deviceIndex);
    try (IValue ignored = module("synchronize").forward(in)) {
      // the call itself is the point
    } finally {
      in.close();
    }
  }

  /** A side-stream copy under way; {@link #finish} waits for it on the device, not the host. */
  public final class Upload implements AutoCloseable {
    private final IValue moved;
    private final IValue done;

    private Upload(IValue moved, IValue done) {
      this.moved = moved;
      this.done = done;
    }

    /** The copies, as stored (float8 stays opaque float8), on {@code owner}. */
    public NDList finish(NDManager owner) {
      IValue index = IValue.from(deviceIndex);
      try (IValue out = module("upload_finish").forward(moved, done, index)) {
        return out.toNDList((PtNDManager) owner);
      } finally {
        index.close();
        close();
      }
    }

    @Override
    public void close() {
      moved.close();
      done.close();
    }
  }

  /** Starts copying pinned host tensors (float8 or float16) to the device on a side stream. */
  public Upload start(NDList pinned) {
    PtNDArray[] arrays = pinned.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new);
    IValue list = IValue.listFrom(arrays);
    IValue index = IValue.from(deviceIndex);
    try {
      IValue out = module("upload_start").forward(list, index);
      IValue[] pair = out.toIValueTuple();
      out.close();
      return new Upload(pair[0], pair[1]);
    } finally {
      list.close();
      index.close();
    }
  }

  private NDArray single(String name, NDManager owner, IValue... in) {
    try (IValue out = module(name).forward(in)) {
      return out.toTensor((PtNDManager) owner);
    } finally {
      closeAll(in);
    }
  }

  private static void closeAll(IValue... values) {
    for (IValue v : values) {
      v.close();
    }
  }

  @Override
  public void close() {
    modules.values().forEach(PtSymbolBlock::close);
    modules.clear();
    manager.close();
  }
}
