package dev.fleet.engine.safetensors;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of a store whose names start with a prefix, seen without it: ComfyUI's {@code
 * model.diffusion_model.img_in.weight} as {@code img_in.weight}, or one component of an all-in-one
 * file. Tensors without the prefix are not part of the view. Closing the view closes the store only
 * when it owns it (several views may share one file).
 */
public final class PrefixedStore implements TensorStore {
  private final TensorStore base;
  private final String prefix;
  private final boolean ownsBase;
  private final Map<String, String> stored = new LinkedHashMap<>();

  /**
   * @param ownsBase whether closing this view closes {@code base}
   */
  public PrefixedStore(TensorStore base, String prefix, boolean ownsBase) {
    this.base = base;
    this.prefix = prefix;
    this.ownsBase = ownsBase;
    for (String name : base.names()) {
      if (name.startsWith(prefix)) {
        stored.put(name.substring(prefix.length()), name);
      }
    }
  }

  /** How many tensors of {@code store} carry {@code prefix}. */
  public static long count(TensorStore store, String prefix) {
    return store.names().stream().filter(n -> n.startsWith(prefix)).count();
  }

  public String prefix() {
    return prefix;
  }

  /** The store seen through this view. */
  public TensorStore base() {
    return base;
  }

  @Override
  public Set<String> names() {
    return Collections.unmodifiableSet(stored.keySet());
  }

  @Override
  public boolean contains(String name) {
    return stored.containsKey(name);
  }

  @Override
  public TensorEntry entry(String name) {
    TensorEntry e = base.entry(storedName(name));
    return new TensorEntry(e.file(), name, e.dtype(), e.shape(), e.begin(), e.end());
  }

  @Override
  public ByteBuffer bytes(String name) {
    return base.bytes(storedName(name));
  }

  @Override
  public float valueScale(String name) {
    return base.valueScale(storedName(name));
  }

  @Override
  public Map<String, String> metadata() {
    return base.metadata();
  }

  /** The name in the underlying store (prefix included). */
  public String storedName(String name) {
    String s = stored.get(name);
    if (s == null) {
      throw new SafetensorsException(describe(), name, "missing tensor");
    }
    return s;
  }

  @Override
  public String describe() {
    return base.describe() + " under " + prefix;
  }

  @Override
  public void close() {
    if (ownsBase) {
      base.close();
    }
  }
}
