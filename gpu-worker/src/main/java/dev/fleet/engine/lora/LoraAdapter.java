package dev.fleet.engine.lora;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A LoRA file read and mapped onto BFL's DiT layers and CLIP's ({@link LoraPatch#CLIP} names): the
 * low-rank updates by layer, float32 on the host, independent of any model until applied.
 *
 * @param name what the adapter is called (the file's name without {@code .safetensors})
 * @param format the layout its keys were in
 * @param patches every update, in the file's order
 */
public record LoraAdapter(String name, LoraFormat format, List<LoraPatch> patches) {

  public LoraAdapter {
    patches = List.copyOf(patches);
  }

  /** The BFL layers the adapter changes. */
  public Set<String> modules() {
    Set<String> s = new LinkedHashSet<>();
    patches.forEach(p -> s.add(p.module()));
    return s;
  }

  /** Host bytes of its factors (float32). */
  public long hostBytes() {
    return patches.stream().mapToLong(LoraPatch::hostBytes).sum();
  }

  /**
   * {@code strength · Σ scale · up · down} of one layer as a dense (out, in) float32 matrix, the
   * slices at their rows: the update a merge would add to the layer's weight (tests compare the
   * side path with it).
   */
  public float[] delta(String module, int out, int in, double strength) {
    float[] d = new float[Math.multiplyExact(out, in)];
    for (LoraPatch p : patches) {
      if (!p.module().equals(module)) {
        continue;
      }
      if (p.rowOffset() + p.out() > out || p.in() > in) {
        throw new UnsupportedLoraException(
            name + ": " + p.source() + " does not fit " + module + " (" + out + ", " + in + ")");
      }
      for (int o = 0; o < p.out(); o++) {
        int row = (int) (p.rowOffset() + o) * in;
        for (int r = 0; r < p.rank(); r++) {
          double u = strength * p.scale() * p.up()[o * p.rank() + r];
          for (int i = 0; i < p.in(); i++) {
            d[row + i] += (float) (u * p.down()[r * p.in() + i]);
          }
        }
      }
    }
    return d;
  }
}
