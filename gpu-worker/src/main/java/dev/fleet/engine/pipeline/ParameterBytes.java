package dev.fleet.engine.pipeline;

import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Path;
import java.util.function.Predicate;

/** Device bytes that a checkpoint's tensors take once loaded in the compute dtype. */
public final class ParameterBytes {
  private ParameterBytes() {}

  /** Float tensors in {@code dtypeBytes} per element, the others as stored. */
  public static long of(TensorStore store, Predicate<String> names, int dtypeBytes) {
    long n = 0;
    for (String name : store.names()) {
      if (names.test(name)) {
        TensorEntry e = store.entry(name);
        n += e.elements() * (e.dtype().isFloating() ? dtypeBytes : e.dtype().bytes());
      }
    }
    return n;
  }

  /** Every tensor of a component's weights. */
  static long of(dev.fleet.engine.checkpoint.ComponentWeights weights, int dtypeBytes) {
    try (TensorStore store = weights.open()) {
      return of(store, name -> true, dtypeBytes);
    }
  }

  /** Every tensor of the checkpoint at {@code path} (file, index or directory). */
  static long of(Path path, int dtypeBytes) {
    try (TensorStore store = TensorStore.open(path)) {
      return of(store, name -> true, dtypeBytes);
    }
  }
}
