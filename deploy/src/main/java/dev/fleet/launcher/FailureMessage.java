package dev.fleet.launcher;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/** A launcher's failure as the user should read it. */
final class FailureMessage {
  private FailureMessage() {}

  /**
   * A failure as the user should read it: its message, then one {@code because:} line per distinct
   * cause or suppressed failure (the stack's services start in parallel and may fail together).
   */
  static String describe(Throwable failure) {
    StringBuilder b = new StringBuilder(String.valueOf(failure.getMessage()));
    Set<String> seen = new LinkedHashSet<>();
    seen.add(String.valueOf(failure.getMessage()));
    ArrayDeque<Throwable> todo = new ArrayDeque<>();
    if (failure.getCause() != null) {
      todo.add(failure.getCause());
    }
    Collections.addAll(todo, failure.getSuppressed());
    while (!todo.isEmpty() && seen.size() < 12) {
      Throwable t = todo.poll();
      String m = t.getMessage() != null ? t.getMessage() : t.toString();
      if (seen.add(m)) {
        b.append(System.lineSeparator()).append("  because: ").append(m);
      }
      if (t.getCause() != null && t.getCause() != t) {
        todo.add(t.getCause());
      }
      Collections.addAll(todo, t.getSuppressed());
    }
    return b.toString();
  }
}
