package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.Narrowing;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * A checkpoint that exists only as a layout: every tensor's bytes are made when they are read, from
 * a seed and the tensor's name, so a full-size model (a 12 B-parameter DiT) can be benchmarked
 * through the real loading and streaming code with neither a download nor a file on disk. Values
 * are drawn from a small table of normal samples already encoded in the storage type, which keeps
 * the fill at memory speed; they are random weights, not a model.
 */
public final class SyntheticTensorStore implements TensorStore {
  private static final int TABLE = 4096;

  /** Tensors above this many bytes are filled in parallel slices. */
  private static final int PARALLEL_BYTES = 1 << 24;

  private final LayoutEntries layout;
  private final long seed;

  /**
   * @param dtypeOf the storage type of each tensor (F32, F16, BF16, F8_E4M3)
   */
  public SyntheticTensorStore(
      List<TensorSpec> layout, Function<TensorSpec, DType> dtypeOf, long seed) {
    this.seed = seed;
    this.layout = new LayoutEntries(layout, dtypeOf);
  }

  @Override
  public Set<String> names() {
    return layout.names();
  }

  @Override
  public TensorEntry entry(String name) {
    return layout.entry(name, describe());
  }

  @Override
  public ByteBuffer bytes(String name) {
    TensorEntry e = entry(name);
    TensorSpec spec = this.layout.spec(name);
    ByteBuffer out =
        ByteBuffer.allocateDirect(Math.toIntExact(e.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    byte[] pattern = pattern(spec, e.dtype());
    int width = e.dtype().bytes();
    long elements = e.elements();
    long salt = seed * 0x9E3779B97F4A7C15L + name.hashCode();
    int slices = e.byteSize() > PARALLEL_BYTES ? Runtime.getRuntime().availableProcessors() * 4 : 1;
    long per = (elements + slices - 1) / slices;
    IntStream.range(0, slices)
        .parallel()
        .forEach(
            s -> {
              SplittableRandom random = new SplittableRandom(salt + s);
              int count = pattern.length / width;
              long end = Math.min(elements, (s + 1) * per);
              // absolute puts: slices write disjoint ranges of the one buffer
              for (long i = s * per; i < end; i++) {
                out.put((int) (i * width), pattern, random.nextInt(count) * width, width);
              }
            });
    return out.clear();
  }

  /** TABLE values (or one constant) already encoded in the storage type, little-endian. */
  private byte[] pattern(TensorSpec spec, DType dtype) {
    float[] values;
    switch (spec.fill()) {
      case ONES -> values = new float[] {1f};
      case ZEROS -> values = new float[] {0f};
      default -> {
        SplittableRandom r = new SplittableRandom(seed ^ spec.name().hashCode());
        values = new float[TABLE];
        for (int i = 0; i < TABLE; i++) {
          values[i] = (float) (gaussian(r) * spec.std());
        }
      }
    }
    if (dtype == DType.F16) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putShort(Float.floatToFloat16(v));
      }
      return b.array();
    }
    return Narrowing.encode(values, dtype);
  }

  private static double gaussian(SplittableRandom r) {
    double u1 = 1 - r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  @Override
  public String describe() {
    return "synthetic checkpoint (seed " + seed + ")";
  }

  @Override
  public void close() {
    // nothing is held: bytes are made per read
  }
}
