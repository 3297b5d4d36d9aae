package dev.fleet.engine.nextdit;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A store that shows another one's tensors under an added key prefix, as a ComfyUI single file
 * ({@code model.diffusion_model.}) or a multimodal Gemma checkpoint ({@code language_model.model.})
 * names them. Does not own the base store.
 */
final class PrefixingStore implements TensorStore {
  private final TensorStore base;
  private final String prefix;

  PrefixingStore(TensorStore base, String prefix) {
    this.base = base;
    this.prefix = prefix;
  }

  @Override
  public Set<String> names() {
    Set<String> out = new LinkedHashSet<>();
    base.names().forEach(n -> out.add(prefix + n));
    return out;
  }

  @Override
  public TensorEntry entry(String name) {
    TensorEntry e = base.entry(strip(name));
    return new TensorEntry(e.file(), name, e.dtype(), e.shape(), e.begin(), e.end());
  }

  @Override
  public ByteBuffer bytes(String name) {
    return base.bytes(strip(name));
  }

  private String strip(String name) {
    if (!name.startsWith(prefix)) {
      throw new SafetensorsException(describe(), name, "no such tensor");
    }
    return name.substring(prefix.length());
  }

  @Override
  public String describe() {
    return base.describe() + " under " + prefix;
  }

  @Override
  public void close() {}
}
