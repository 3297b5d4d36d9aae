package dev.fleet.engine.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.Adapters;
import dev.fleet.engine.nn.LowRank;
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
    Map<String, List<Scaled>> byModule = new LinkedHashMap<>();
    for (AppliedLora l : stack.loras()) {
      linears.check(l.adapter());
      for (LoraPatch p : l.adapter().patches()) {
        byModule
            .computeIfAbsent(p.module(), k -> new ArrayList<>())
            .add(new Scaled(p, (float) (l.strength() * p.scale())));
      }
    }
    Map<String, LowRank> sides = new HashMap<>();
    long bytes = 0;
    for (Map.Entry<String, List<Scaled>> e : byModule.entrySet()) {
      int[] shape = linears.shape(e.getKey());
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
