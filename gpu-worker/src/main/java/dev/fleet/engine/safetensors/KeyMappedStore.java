package dev.fleet.engine.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A store seen under other key names: each name of the view is made from one or more tensors of the
 * underlying store, renamed, stacked along dim 0 (separate q, k, v projections served as one fused
 * matrix), or with the two halves of dim 0 swapped (a modulation stored as (scale, shift) served as
 * (shift, scale)). Renamed tensors are served from the underlying mapping without a copy; stacked
 * or swapped ones are assembled in a new buffer on every {@link #bytes} call, and their entries are
 * virtual (offsets 0..size, not into a file). Closing the view closes the underlying store only
 * when it owns it.
 */
public final class KeyMappedStore implements TensorStore {

  /**
   * How one tensor of the view is made: its parts in the underlying store, stacked along dim 0 in
   * this order, the halves of dim 0 swapped or not (only for a single part).
   */
  public record Source(List<String> parts, boolean swapHalves) {
    public Source {
      parts = List.copyOf(parts);
      if (parts.isEmpty() || (swapHalves && parts.size() != 1)) {
        throw new IllegalArgumentException("a source is one part (swapped or not) or several");
      }
    }

    /** The tensor stored under another name. */
    public static Source renamed(String part) {
      return new Source(List.of(part), false);
    }

    /** The parts stacked along dim 0. */
    public static Source stacked(List<String> parts) {
      return new Source(parts, false);
    }

    /** The tensor with the halves of its dim 0 swapped. */
    public static Source swapped(String part) {
      return new Source(List.of(part), true);
    }
  }

  /**
   * The sources of a view over one store, built name by name: a name is added only when the store
   * holds the (first) part it is made from, so one mapping serves files that hold only some of the
   * names (a missing later part of a stacked name is named when the tensor is read).
   */
  public static final class Mapping {
    private final TensorStore store;
    private final Map<String, Source> sources = new LinkedHashMap<>();

    public Mapping(TensorStore store) {
      this.store = store;
    }

    /** {@code name} is {@code part} renamed. */
    public void tensor(String name, String part) {
      add(name, Source.renamed(part));
    }

    /** {@code name} is {@code part} with the halves of its dim 0 swapped. */
    public void swapped(String name, String part) {
      add(name, Source.swapped(part));
    }

    /** A linear layer renamed: its weight and bias. */
    public void linear(String name, String part) {
      tensor(name + ".weight", part + ".weight");
      tensor(name + ".bias", part + ".bias");
    }

    /** {@code name} is {@code parts} stacked along dim 0. */
    public void stacked(String name, String... parts) {
      add(name, Source.stacked(List.of(parts)));
    }

    /** A linear layer whose weight and bias are each the layers' stacked along dim 0. */
    public void fused(String name, String... layers) {
      for (String p : List.of(".weight", ".bias")) {
        add(name + p, Source.stacked(Arrays.stream(layers).map(l -> l + p).toList()));
      }
    }

    /** The names added, in order, and how each is made. */
    public Map<String, Source> sources() {
      return Collections.unmodifiableMap(sources);
    }

    private void add(String name, Source s) {
      if (store.contains(s.parts().get(0))) {
        sources.put(name, s);
      }
    }
  }

  private final TensorStore base;
  private final Map<String, Source> sources;
  private final String layout;
  private final boolean ownsBase;

  /**
   * @param sources the view's names, in the order {@link #names} lists them, and how each is made
   * @param layout what the view translates, for {@link #describe} (e.g. "diffusers layout as BFL")
   * @param ownsBase whether closing the view closes {@code base}
   */
  public KeyMappedStore(
      TensorStore base, Map<String, Source> sources, String layout, boolean ownsBase) {
    this.base = base;
    this.sources = Collections.unmodifiableMap(new LinkedHashMap<>(sources));
    this.layout = layout;
    this.ownsBase = ownsBase;
  }

  /** The indices N of the names {@code prefix.N.…} in {@code store}, ascending. */
  public static Set<Integer> blockIndices(TensorStore store, String prefix) {
    Pattern p = Pattern.compile("^" + Pattern.quote(prefix) + "\\.(\\d+)\\.");
    Set<Integer> seen = new TreeSet<>();
    for (String name : store.names()) {
      Matcher m = p.matcher(name);
      if (m.find()) {
        seen.add(Integer.parseInt(m.group(1)));
      }
    }
    return seen;
  }

  /** The store seen through this view. */
  public TensorStore base() {
    return base;
  }

  @Override
  public Set<String> names() {
    return sources.keySet();
  }

  @Override
  public boolean contains(String name) {
    return sources.containsKey(name);
  }

  @Override
  public TensorEntry entry(String name) {
    Source s = source(name);
    TensorEntry first = base.entry(s.parts().get(0));
    if (s.parts().size() == 1 && !s.swapHalves()) {
      return new TensorEntry(
          first.file(), name, first.dtype(), first.shape(), first.begin(), first.end());
    }
    long[] shape = first.shape();
    if (shape.length == 0 || (s.swapHalves() && shape[0] % 2 != 0)) {
      throw new SafetensorsException(
          base.describe(), first.name(), "cannot split rows of shape " + Arrays.toString(shape));
    }
    long bytes = first.byteSize();
    for (String part : s.parts().subList(1, s.parts().size())) {
      TensorEntry e = base.entry(part);
      long[] ps = e.shape();
      if (e.dtype() != first.dtype()
          || ps.length != shape.length
          || !Arrays.equals(
              Arrays.copyOfRange(ps, 1, ps.length), Arrays.copyOfRange(shape, 1, shape.length))) {
        throw new SafetensorsException(
            base.describe(),
            part,
            e.dtype()
                + Arrays.toString(ps)
                + " cannot be stacked under "
                + first.name()
                + " "
                + first.dtype()
                + Arrays.toString(first.shape())
                + " to make "
                + name);
      }
      shape[0] += ps[0];
      bytes += e.byteSize();
    }
    return new TensorEntry(first.file(), name, first.dtype(), shape, 0, bytes);
  }

  @Override
  public ByteBuffer bytes(String name) {
    Source s = source(name);
    if (s.parts().size() == 1 && !s.swapHalves()) {
      return base.bytes(s.parts().get(0));
    }
    TensorEntry e = entry(name);
    ByteBuffer out =
        ByteBuffer.allocateDirect(Math.toIntExact(e.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    if (s.swapHalves()) {
      ByteBuffer whole = base.bytes(s.parts().get(0));
      int half = whole.remaining() / 2;
      out.put(whole.slice(whole.position() + half, half));
      out.put(whole.slice(whole.position(), half));
    } else {
      for (String part : s.parts()) {
        out.put(base.bytes(part).duplicate());
      }
    }
    return out.flip();
  }

  /**
   * A renamed or reordered tensor has its part's scale; parts stacked into one tensor must share
   * theirs, which one stored float8 tensor cannot express otherwise.
   */
  @Override
  public float valueScale(String name) {
    Source s = source(name);
    float scale = base.valueScale(s.parts().get(0));
    for (String part : s.parts().subList(1, s.parts().size())) {
      float other = base.valueScale(part);
      if (other != scale) {
        throw new SafetensorsException(
            base.describe(),
            part,
            "scale "
                + other
                + " differs from "
                + s.parts().get(0)
                + "'s "
                + scale
                + ": scaled float8 parts with different scales cannot be fused into "
                + name);
      }
    }
    return scale;
  }

  @Override
  public Map<String, String> metadata() {
    return base.metadata();
  }

  private Source source(String name) {
    Source s = sources.get(name);
    if (s == null) {
      throw new SafetensorsException(describe(), name, "no such tensor");
    }
    return s;
  }

  @Override
  public String describe() {
    return base.describe() + " (" + layout + ")";
  }

  @Override
  public void close() {
    if (ownsBase) {
      base.close();
    }
  }
}
