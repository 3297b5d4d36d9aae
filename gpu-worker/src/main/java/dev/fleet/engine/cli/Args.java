package dev.fleet.engine.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} options of one CLI subcommand, checked against the names it knows. */
final class Args {
  private final String command;
  private final Map<String, String> values = new LinkedHashMap<>();
  private final Map<String, List<String>> repeated = new LinkedHashMap<>();

  private Args(String command) {
    this.command = command;
  }

  /**
   * @throws UsageException for an unknown option, a missing value or a stray argument
   */
  static Args parse(String command, List<String> argv, Set<String> known) {
    return parse(command, argv, known, Set.of());
  }

  /**
   * @param repeatable options that may be given more than once (each value kept, in order)
   * @throws UsageException for an unknown option, a missing value or a stray argument
   */
  static Args parse(String command, List<String> argv, Set<String> known, Set<String> repeatable) {
    Args a = new Args(command);
    for (int i = 0; i < argv.size(); i++) {
      String arg = argv.get(i);
      if (!arg.startsWith("--")) {
        throw new UsageException(command + ": unexpected argument '" + arg + "'");
      }
      String name = arg.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (!known.contains(name) && !repeatable.contains(name)) {
        throw new UsageException(
            command
                + ": unknown option --"
                + name
                + " (known: --"
                + String.join(", --", union(known, repeatable))
                + ")");
      }
      if (value == null) {
        if (i + 1 >= argv.size() || argv.get(i + 1).startsWith("--")) {
          throw new UsageException(command + ": option --" + name + " needs a value");
        }
        value = argv.get(++i);
      }
      if (repeatable.contains(name)) {
        a.repeated.computeIfAbsent(name, k -> new java.util.ArrayList<>()).add(value);
      } else if (a.values.put(name, value) != null) {
        throw new UsageException(command + ": option --" + name + " given twice");
      }
    }
    return a;
  }

  private static java.util.SortedSet<String> union(Set<String> a, Set<String> b) {
    java.util.SortedSet<String> s = new java.util.TreeSet<>(a);
    s.addAll(b);
    return s;
  }

  /** Every value of a repeatable option, in the order given (empty when absent). */
  List<String> all(String name) {
    return repeated.getOrDefault(name, List.of());
  }

  String required(String name) {
    String v = values.get(name);
    if (v == null) {
      throw new UsageException(command + ": missing required option --" + name);
    }
    return v;
  }

  String get(String name, String fallback) {
    return values.getOrDefault(name, fallback);
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  long longValue(String name, long fallback) {
    String v = values.get(name);
    try {
      return v == null ? fallback : Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " must be an integer, got '" + v + "'");
    }
  }

  int intValue(String name, int fallback) {
    long v = longValue(name, fallback);
    if (v != (int) v) {
      throw new UsageException(command + ": --" + name + " is out of range: " + v);
    }
    return (int) v;
  }

  double doubleValue(String name, double fallback) {
    String v = values.get(name);
    try {
      return v == null ? fallback : Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " must be a number, got '" + v + "'");
    }
  }
}
