package dev.fleet.engine.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.nn.Adapters;
import dev.fleet.engine.nn.LowRank;
import dev.fleet.engine.text.ClipTextConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link LoraStack} on the compute device: per adapted layer one side path whose {@code down}
 * stacks the (rank, in) factors of every update of the layer and whose {@code up} holds the (out,
 * rank) factors at their rows, times strength · alpha / rank, zero elsewhere. So a q, k or v slice
 * of a fused matrix and several stacked adapters cost one pair of matmuls per layer, in the compute
 * dtype, and the base weights are never touched. The arrays live on the given manager.
 */
public final class DeviceAdapters implements Adapters {
  private final Map<String, LowRank> sides;
  private final long bytes;

  private DeviceAdapters(Map<String, LowRank> sides, long bytes) {
    this.sides = sides;
    this.bytes = bytes;
  }

  /**
   * Builds the side paths of {@code stack} for a model of {@code linears}.
   *
   * @throws UnsupportedLoraException when an update does not fit the model
   */
  public static DeviceAdapters build(
      LoraStack stack, DitLinears linears, DataType dtype, NDManager manager) {
    for (AppliedLora l : stack.loras()) {
      linears.check(l.adapter());
    }
    return build(stack, false, linears::shape, dtype, manager);
  }

  /**
   * Builds the side paths of {@code stack}'s CLIP text-encoder updates for a CLIP of {@code
   * config}, by {@link LoraPatch#CLIP} names ({@code clip.encoder.layers.N.self_attn.q_proj}).
   *
   * @throws UnsupportedLoraException when an update does not fit the model
   */
  public static DeviceAdapters buildClip(
      LoraStack stack, ClipTextConfig config, DataType dtype, NDManager manager) {
    java.util.function.Function<String, int[]> shapes = module -> clipShape(module, config);
    for (AppliedLora l : stack.loras()) {
      for (LoraPatch p : l.adapter().patches()) {
        if (!p.isClip()) {
          continue;
        }
        int[] s = shapes.apply(p.module());
        if (s == null || p.rowOffset() + p.out() > s[0] || p.in() > s[1]) {
          throw new UnsupportedLoraException(
              "LoRA "
                  + l.adapter().name()
                  + ": "
                  + p.source()
                  + " is ("
                  + p.out()
                  + ", "
                  + p.in()
                  + "), which does not fit "
                  + (s == null ? "any layer" : "(" + s[0] + ", " + s[1] + ")")
                  + " of this model's CLIP text encoder ("
                  + config.dims().layers()
                  + " layers of width "
                  + config.dims().hiddenSize()
                  + "; a LoRA for another model?)");
        }
      }
    }
    return build(stack, true, shapes, dtype, manager);
  }

  /** {out, in} of a CLIP layer, or null. */
  private static int[] clipShape(String module, ClipTextConfig c) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                java.util.regex.Pattern.quote(LoraPatch.CLIP)
                    + "encoder\\.layers\\.(\\d+)\\.(self_attn\\.(?:q|k|v|out)_proj|mlp\\.fc[12])")
            .matcher(module);
    if (!m.matches() || Long.parseLong(m.group(1)) >= c.dims().layers()) {
      return null;
    }
    int hidden = c.dims().hiddenSize();
    int inter = c.dims().intermediateSize();
    return switch (m.group(2)) {
      case "mlp.fc1" -> new int[] {inter, hidden};
      case "mlp.fc2" -> new int[] {hidden, inter};
      default -> new int[] {hidden, hidden};
    };
  }

  private static DeviceAdapters build(
      LoraStack stack,
      boolean clip,
      java.util.function.Function<String, int[]> shapes,
      DataType dtype,
      NDManager manager) {
    Map<String, List<Scaled>> byModule = new LinkedHashMap<>();
    for (AppliedLora l : stack.loras()) {
      for (LoraPatch p : l.adapter().patches()) {
        if (p.isClip() != clip) {
          continue;
        }
        byModule
            .computeIfAbsent(p.module(), k -> new ArrayList<>())
            .add(new Scaled(p, (float) (l.strength() * p.scale())));
      }
    }
    Map<String, LowRank> sides = new HashMap<>();
    long bytes = 0;
    for (Map.Entry<String, List<Scaled>> e : byModule.entrySet()) {
      int[] shape = shapes.apply(e.getKey());
      int out = shape[0];
      int in = shape[1];
      int rank = e.getValue().stream().mapToInt(s -> s.patch.rank()).sum();
      float[] down = new float[rank * in];
      float[] up = new float[out * rank];
      int r0 = 0;
      for (Scaled s : e.getValue()) {
        LoraPatch p = s.patch;
        for (int r = 0; r < p.rank(); r++) {
          System.arraycopy(p.down(), r * p.in(), down, (r0 + r) * in, p.in());
        }
        for (int o = 0; o < p.out(); o++) {
          int row = (int) (p.rowOffset() + o);
          for (int r = 0; r < p.rank(); r++) {
            up[row * rank + r0 + r] = s.factor * p.up()[o * p.rank() + r];
          }
        }
        r0 += p.rank();
      }
      NDArray d = onDevice(manager, down, new Shape(rank, in), dtype);
      NDArray u = onDevice(manager, up, new Shape(out, rank), dtype);
      sides.put(e.getKey(), new LowRank(d, u));
      bytes += (long) (down.length + up.length) * dtype.getNumOfBytes();
    }
    return new DeviceAdapters(Map.copyOf(sides), bytes);
  }

  private record Scaled(LoraPatch patch, float factor) {}

  private static NDArray onDevice(NDManager m, float[] values, Shape shape, DataType dtype) {
    NDArray a = m.create(values, shape);
    if (dtype == DataType.FLOAT32) {
      return a;
    }
    NDArray cast = a.toType(dtype, false);
    a.close();
    return cast;
  }

  @Override
  public LowRank side(String module) {
    return sides.get(module);
  }

  /** True when no layer is adapted: the forward pass then is exactly the base model's. */
  public boolean isEmpty() {
    return sides.isEmpty();
  }

  /** What to pass to the forward pass: these adapters, or {@link Adapters#NONE} when empty. */
  public Adapters orNone() {
    return sides.isEmpty() ? Adapters.NONE : this;
  }

  /** Device bytes of the side paths' factors. */
  public long bytes() {
    return bytes;
  }
}
