package dev.fleet.model.job;

import java.util.Arrays;
import java.util.Optional;

/**
 * A class of workers by the GPU memory they may use; a job goes to the smallest class whose budget
 * holds its predicted peak. Each class has a Kafka topic per model ({@link #topic}), so that the
 * workers of one size and one model scale on their own lag and never receive another model's jobs.
 */
public enum MemoryClass {
  VRAM_8G("vram-8g", 8),
  VRAM_12G("vram-12g", 12),
  VRAM_16G("vram-16g", 16);

  private static final long GIB = 1L << 30;

  private final String className;
  private final long budgetBytes;

  MemoryClass(String className, int gib) {
    this.className = className;
    this.budgetBytes = gib * GIB;
  }

  /** The class name as users, configuration and Kafka see it, e.g. {@code vram-8g}. */
  public String className() {
    return className;
  }

  /**
   * The Kafka topic that carries this class's jobs for {@code model} (a registry name), {@code
   * <class>.<model>}, e.g. {@code vram-8g.flux-shapes}: a worker serves one model, so the jobs of a
   * model it does not load must not reach it (its consumer group is {@code fleet-workers-<topic>}).
   *
   * @throws IllegalArgumentException the model name cannot be part of a topic name
   */
  public String topic(String model) {
    return className + "." + ModelNames.requireTopicSafe(model);
  }

  /** GPU memory a worker of this class may use, in bytes. */
  public long budgetBytes() {
    return budgetBytes;
  }

  /** The classes from smallest to largest budget. */
  public static MemoryClass[] bySize() {
    return values(); // declared in ascending order
  }

  public static MemoryClass largest() {
    MemoryClass[] all = values();
    return all[all.length - 1];
  }

  public static Optional<MemoryClass> byName(String name) {
    return Arrays.stream(values()).filter(c -> c.className.equals(name)).findFirst();
  }

  @Override
  public String toString() {
    return className;
  }
}
