package dev.fleet.worker;

import dev.fleet.engine.lora.AppliedLora;
import dev.fleet.engine.lora.LoraCache;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.lora.UnsupportedLoraException;
import dev.fleet.model.LoraRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A job's LoRAs by name: {@code NAME.safetensors} in the worker's LoRA directory (the gateway's
 * directory, the same files), read through a bounded cache so that a LoRA used job after job is
 * read once.
 */
public final class WorkerLoras {
  private final Path dir;
  private final LoraCache cache;

  public WorkerLoras(Path dir, long cacheBytes) {
    this.dir = dir.toAbsolutePath().normalize();
    this.cache = new LoraCache(cacheBytes);
  }

  public Path dir() {
    return dir;
  }

  public LoraCache cache() {
    return cache;
  }

  /**
   * The adapters of {@code refs}, in their order.
   *
   * @throws UnsupportedLoraException when a name is not a file of the directory (any more), or its
   *     file cannot be read as a LoRA
   */
  public LoraStack resolve(List<LoraRef> refs) {
    if (refs.isEmpty()) {
      return LoraStack.NONE;
    }
    List<AppliedLora> applied = new ArrayList<>(refs.size());
    for (LoraRef r : refs) {
      String problem = LoraRef.nameProblem(r.name());
      if (problem != null) {
        throw new UnsupportedLoraException("LoRA name '" + r.name() + "' " + problem);
      }
      Path file = dir.resolve(r.name() + ".safetensors").normalize();
      if (!file.startsWith(dir) || !Files.isRegularFile(file)) {
        throw new UnsupportedLoraException(
            "LoRA '" + r.name() + "' is not in this worker's LoRA directory " + dir);
      }
      applied.add(new AppliedLora(cache.get(file, r.name()), r.strength()));
    }
    return new LoraStack(applied);
  }
}
