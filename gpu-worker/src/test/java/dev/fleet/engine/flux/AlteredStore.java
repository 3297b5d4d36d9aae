package dev.fleet.engine.flux;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A test double over a real store with one tensor removed or replaced by another's data, to check
 * the errors that damaged checkpoints produce.
 */
final class AlteredStore implements TensorStore {
  private final TensorStore base;
  private final Set<String> hidden;
  private final Map<String, String> aliases;

  private AlteredStore(TensorStore base, Set<String> hidden, Map<String, String> aliases) {
    this.base = base;
    this.hidden = hidden;
    this.aliases = aliases;
  }

  static AlteredStore without(TensorStore base, String name) {
    return new AlteredStore(base, Set.of(name), Map.of());
  }

  /** {@code name} answers with the shape and bytes of {@code source}. */
  static AlteredStore replaced(TensorStore base, String name, String source) {
    return new AlteredStore(base, Set.of(), Map.of(name, source));
  }

  @Override
  public Set<String> names() {
    Set<String> names = new LinkedHashSet<>(base.names());
    names.removeAll(hidden);
    return names;
  }

  @Override
  public TensorEntry entry(String name) {
    if (hidden.contains(name)) {
      throw new SafetensorsException(describe(), name, "no such tensor");
    }
    TensorEntry e = base.entry(aliases.getOrDefault(name, name));
    return new TensorEntry(e.file(), name, e.dtype(), e.shape(), e.begin(), e.end());
  }

  @Override
  public ByteBuffer bytes(String name) {
    return base.bytes(aliases.getOrDefault(name, name));
  }

  @Override
  public String describe() {
    return "altered " + base.describe();
  }

  @Override
  public void close() {}
}
