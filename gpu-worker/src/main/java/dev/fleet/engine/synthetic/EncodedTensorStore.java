package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * A layout whose tensors' bytes are computed when read, by a function of the tensor: what {@link
 * SyntheticModelWriter} hands {@code StreamingSafetensorsWriter}, so that a file is written one
 * tensor at a time with the writer's own per-key values.
 *
 * <p>A read of the tensor at position i of {@link #names} also starts computing the next ones, up
 * to one per processor, on the common pool: a writer that reads in order finds them made, and the
 * filling runs on every core as when whole files were buffered, while the heap holds at most that
 * many tensors. A tensor is computed again if read again; closing drops what was not read.
 */
final class EncodedTensorStore implements TensorStore {
  private final LayoutEntries entries;
  private final List<String> order;
  private final Map<String, Integer> position = new HashMap<>();
  private final Map<String, CompletableFuture<byte[]>> ahead = new HashMap<>();
  private final int lookAhead = Math.max(1, Runtime.getRuntime().availableProcessors());
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
    this.entries = new LayoutEntries(layout, dtypeOf);
    this.order = entries.order();
    for (int i = 0; i < order.size(); i++) {
      position.put(order.get(i), i);
    }
  }

  @Override
  public Set<String> names() {
    return entries.names();
  }

  @Override
  public TensorEntry entry(String name) {
    return entries.entry(name, describe());
  }

  @Override
  public ByteBuffer bytes(String name) {
    TensorEntry e = entry(name);
    byte[] data = await(next(name));
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

  /** The future of {@code name}'s bytes, with the next tensors' started behind it. */
  private synchronized CompletableFuture<byte[]> next(String name) {
    int at = position.get(name);
    for (int i = at; i < Math.min(order.size(), at + lookAhead); i++) {
      String n = order.get(i);
      ahead.computeIfAbsent(
          n, k -> CompletableFuture.supplyAsync(() -> encode.apply(entries.spec(k))));
    }
    return ahead.remove(name);
  }

  private static byte[] await(CompletableFuture<byte[]> f) {
    try {
      return f.join();
    } catch (CompletionException ce) {
      if (ce.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (ce.getCause() instanceof Error err) {
        throw err;
      }
      throw ce;
    }
  }

  @Override
  public synchronized void close() {
    ahead.values().forEach(f -> f.cancel(false));
    ahead.clear();
  }
}
