package dev.fleet.helm;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Files of a chart on disk: a copy with other values, and the documentation of its values. */
final class ChartFiles {
  private static final KubernetesSerialization YAML = new KubernetesSerialization();

  private ChartFiles() {}

  /**
   * Copies {@code chart} into {@code target} with {@code overrides} merged into its values.yaml, as
   * {@code helm -f overrides} would see them.
   */
  static Path copyWithValues(Path chart, Path overrides, Path target) throws IOException {
    Path copy = copy(chart, target);
    Map<String, Object> values = read(chart.resolve("values.yaml"));
    Map<String, Object> merged = merge(values, read(overrides));
    Files.writeString(copy.resolve("values.yaml"), YAML.asYaml(merged));
    return copy;
  }

  /** Copies {@code chart} into {@code target}; returns the copy. */
  static Path copy(Path chart, Path target) throws IOException {
    Path copy = target.resolve(chart.getFileName());
    try (Stream<Path> files = Files.walk(chart)) {
      for (Path source : files.toList()) {
        Path dest = copy.resolve(chart.relativize(source).toString());
        if (Files.isDirectory(source)) {
          Files.createDirectories(dest);
        } else {
          Files.copy(source, dest);
        }
      }
    }
    return copy;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> read(Path yaml) throws IOException {
    Map<String, Object> map = YAML.unmarshal(Files.readString(yaml), Map.class);
    return map == null ? new LinkedHashMap<>() : map;
  }

  /** Helm's coalescing: maps merge key by key, other values replace, null deletes. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> overrides) {
    Map<String, Object> merged = new LinkedHashMap<>(base);
    overrides.forEach(
        (key, value) -> {
          Object old = merged.get(key);
          if (value == null) {
            merged.remove(key);
          } else if (value instanceof Map<?, ?> m && old instanceof Map<?, ?> o) {
            merged.put(key, merge((Map<String, Object>) o, (Map<String, Object>) m));
          } else {
            merged.put(key, value);
          }
        });
    return merged;
  }

  /**
   * The values of a values.yaml without documentation, as "path (line n)". A value is documented
   * when the comment block right above its key starts with {@code # --}, or when a key it sits
   * under is documented that way (a probe, a resources map, a list of tolerations).
   */
  static List<String> undocumentedValues(Path valuesYaml) throws IOException {
    List<String> lines = Files.readAllLines(valuesYaml);
    List<String> undocumented = new ArrayList<>();
    Deque<Key> parents = new ArrayDeque<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      int indent = line.indexOf(trimmed);
      boolean listItem = trimmed.startsWith("- ");
      while (!parents.isEmpty() && parents.peek().indent >= indent) {
        parents.pop();
      }
      boolean underDocumented = parents.stream().anyMatch(k -> k.documented);
      if (listItem) {
        if (!underDocumented) {
          undocumented.add(path(parents, "[]") + " (line " + (i + 1) + ")");
        }
        continue;
      }
      int colon = trimmed.indexOf(':');
      if (colon < 0) {
        continue; // a continuation of a multi-line value
      }
      String name = trimmed.substring(0, colon);
      boolean leaf = !trimmed.substring(colon + 1).isBlank();
      boolean documented = documentedAbove(lines, i);
      if (leaf && !documented && !underDocumented) {
        undocumented.add(path(parents, name) + " (line " + (i + 1) + ")");
      }
      if (!leaf) {
        parents.push(new Key(name, indent, documented));
      }
    }
    return undocumented;
  }

  /** Whether the comment block directly above line {@code i} starts with "# --". */
  private static boolean documentedAbove(List<String> lines, int i) {
    int j = i - 1;
    String first = null;
    while (j >= 0 && lines.get(j).strip().startsWith("#")) {
      first = lines.get(j).strip();
      j--;
    }
    return first != null && first.startsWith("# --");
  }

  private static String path(Deque<Key> parents, String name) {
    List<String> names = new ArrayList<>();
    parents.descendingIterator().forEachRemaining(k -> names.add(k.name));
    names.add(name);
    return String.join(".", names);
  }

  private record Key(String name, int indent, boolean documented) {}
}
