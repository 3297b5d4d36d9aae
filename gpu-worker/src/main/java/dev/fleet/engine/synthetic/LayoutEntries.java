package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The entries of a store that exists only as a layout: each tensor's spec and a virtual entry
 * (offsets laid end to end from 0, not into a file) in its storage type, in layout order. What the
 * synthetic stores share; each makes the bytes its own way.
 */
final class LayoutEntries {
  private final Map<String, TensorSpec> specs = new LinkedHashMap<>();
  private final Map<String, TensorEntry> entries = new LinkedHashMap<>();

  LayoutEntries(Iterable<TensorSpec> layout, Function<TensorSpec, DType> dtypeOf) {
    Path origin = Path.of("synthetic");
    long offset = 0;
    for (TensorSpec t : layout) {
      DType dtype = dtypeOf.apply(t);
      long bytes = t.elements() * dtype.bytes();
      specs.put(t.name(), t);
      entries.put(
          t.name(), new TensorEntry(origin, t.name(), dtype, t.shape(), offset, offset + bytes));
      offset += bytes;
    }
  }

  /** The names in layout order. */
  Set<String> names() {
    return Collections.unmodifiableSet(entries.keySet());
  }

  /** The names in layout order, as a list. */
  List<String> order() {
    return List.copyOf(entries.keySet());
  }

  /**
   * The entry of {@code name}.
   *
   * @param store what the store calls itself, for the error of a missing name
   */
  TensorEntry entry(String name, String store) {
    TensorEntry e = entries.get(name);
    if (e == null) {
      throw new SafetensorsException(store, name, "missing tensor");
    }
    return e;
  }

  /** The spec of {@code name} (null if it is none of the layout's). */
  TensorSpec spec(String name) {
    return specs.get(name);
  }
}
