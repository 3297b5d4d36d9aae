package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A layout whose tensors' bytes are computed when read, by a function of the tensor: what {@link
 * SyntheticModelWriter} hands {@code StreamingSafetensorsWriter}, so that a file is written one
 * tensor at a time with the writer's own per-key values.
 */
final class EncodedTensorStore implements TensorStore {
  private final Map<String, TensorSpec> specs = new LinkedHashMap<>();
  private final Map<String, TensorEntry> entries = new LinkedHashMap<>();
  private final Function<TensorSpec, byte[]> encode;

  /**
   * @param dtypeOf each tensor's storage type
   * @param encode each tensor's little-endian bytes in that type
   */
  EncodedTensorStore(
      Iterable<TensorSpec> layout,
      Function<TensorSpec, DType> dtypeOf,
      Function<TensorSpec, byte[]> encode) {
    this.encode = encode;
    Path origin = Path.of("synthetic");
    long offset = 0;
    for (TensorSpec t : layout) {
      long bytes = t.elements() * dtypeOf.apply(t).bytes();
      specs.put(t.name(), t);
      entries.put(
          t.name(),
          new TensorEntry(origin, t.name(), dtypeOf.apply(t), t.shape(), offset, offset + bytes));
      offset += bytes;
    }
  }

  @Override
  public Set<String> names() {
    return Collections.unmodifiableSet(entries.keySet());
  }

  @Override
  public TensorEntry entry(String name) {
    TensorEntry e = entries.get(name);
    if (e == null) {
      throw new SafetensorsException(describe(), name, "missing tensor");
    }
    return e;
  }

  @Override
  public ByteBuffer bytes(String name) {
    TensorEntry e = entry(name);
    byte[] data = encode.apply(specs.get(name));
    if (data.length != e.byteSize()) {
      throw new IllegalStateException(
          name + ": encoded " + data.length + " bytes, its entry needs " + e.byteSize());
    }
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public String describe() {
    return "synthetic layout encoded per read";
  }

  @Override
  public void close() {
    // nothing is held: bytes are made per read
  }
}
