package dev.fleet.model.job;

import java.util.regex.Pattern;

/**
 * What a model's registry name may be: it is part of the Kafka topic of its jobs ({@link
 * MemoryClass#topic}), after the class and a dot, so only letters, digits, {@code -} and {@code _}
 * (Kafka's topic characters less the dot that separates the two parts), at most 200 of them.
 */
public final class ModelNames {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,200}");

  private ModelNames() {}

  /** Whether {@code name} may name a model. */
  public static boolean valid(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  /**
   * {@code name}, or an error naming it and what a name may hold.
   *
   * @throws IllegalArgumentException when it is not {@link #valid}
   */
  public static String requireTopicSafe(String name) {
    if (!valid(name)) {
      throw new IllegalArgumentException(
          "model name "
              + (name == null ? "null" : "'" + name + "'")
              + " must be 1 to 200 letters, digits, '-' or '_' (it is part of the jobs' Kafka topic)");
    }
    return name;
  }
}
