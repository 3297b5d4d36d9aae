package dev.fleet.model.job;

import java.util.Arrays;
import java.util.Optional;

/**
 * A class of workers by the GPU memory they may use. Each class has its own Kafka topic, named as
 * the class, so that workers of one size scale on their own lag; a job goes to the smallest class
 * whose budget holds its predicted peak.
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

  /** The Kafka topic that carries this class's jobs: the class name. */
  public String topic() {
    return className;
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
