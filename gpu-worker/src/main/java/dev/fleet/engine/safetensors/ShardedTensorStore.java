package dev.fleet.engine.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Several safetensors files seen as one store, e.g. the shards a {@code
 * model.safetensors.index.json} lists.
 */
public final class ShardedTensorStore implements TensorStore {
  private final String origin;
  private final List<TensorStore> parts;
  private final Map<String, TensorStore> owner = new LinkedHashMap<>();

  /** Merges parts; the same tensor name in two parts is an error. */
  public ShardedTensorStore(String origin, List<TensorStore> parts) {
    this.origin = origin;
    this.parts = List.copyOf(parts);
    for (TensorStore part : parts) {
      for (String name : part.names()) {
        TensorStore previous = owner.putIfAbsent(name, part);
        if (previous != null) {
          closeAll();
          throw new SafetensorsException(
              origin,
              name,
              "tensor appears in both " + previous.describe() + " and " + part.describe());
        }
      }
    }
  }

  /** Opens every shard an index names and checks that each tensor is where the index says. */
  public static ShardedTensorStore fromIndex(Path index) {
    JsonNode map;
    try {
      map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
    } catch (IOException e) {
      throw new SafetensorsException(index.toString(), "cannot read shard index", e);
    }
    if (map == null || !map.isObject()) {
      throw new SafetensorsException(index.toString(), null, "index has no weight_map object");
    }
    Map<String, String> expected = new LinkedHashMap<>();
    map.fields().forEachRemaining(f -> expected.put(f.getKey(), f.getValue().asText()));
    Map<String, TensorStore> byFile = new LinkedHashMap<>();
    List<TensorStore> parts = new ArrayList<>();
    try {
      for (String file : new java.util.TreeSet<>(expected.values())) {
        SafetensorsFile part = SafetensorsFile.open(index.resolveSibling(file));
        byFile.put(file, part);
        parts.add(part);
      }
      for (Map.Entry<String, String> e : expected.entrySet()) {
        if (!byFile.get(e.getValue()).contains(e.getKey())) {
          throw new SafetensorsException(
              index.resolveSibling(e.getValue()).toString(),
              e.getKey(),
              "missing tensor (listed in " + index.getFileName() + ")");
        }
      }
    } catch (RuntimeException ex) {
      parts.forEach(TensorStore::close);
      throw ex;
    }
    return new ShardedTensorStore(index.toString(), parts);
  }

  @Override
  public Set<String> names() {
    return Collections.unmodifiableSet(owner.keySet());
  }

  @Override
  public TensorEntry entry(String name) {
    return part(name).entry(name);
  }

  @Override
  public ByteBuffer bytes(String name) {
    return part(name).bytes(name);
  }

  @Override
  public float valueScale(String name) {
    return part(name).valueScale(name);
  }

  @Override
  public Map<String, String> metadata() {
    Map<String, String> merged = new LinkedHashMap<>();
    parts.forEach(p -> merged.putAll(p.metadata()));
    return Collections.unmodifiableMap(merged);
  }

  private TensorStore part(String name) {
    TensorStore p = owner.get(name);
    if (p == null) {
      throw new SafetensorsException(origin, name, "missing tensor");
    }
    return p;
  }

  @Override
  public String describe() {
    return origin;
  }

  @Override
  public void close() {
    closeAll();
  }

  private void closeAll() {
    parts.forEach(TensorStore::close);
  }
}
