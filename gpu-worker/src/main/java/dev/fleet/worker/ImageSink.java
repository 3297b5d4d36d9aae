package dev.fleet.worker;

/** Where finished images go; the worker's only contact with object storage. */
@FunctionalInterface
public interface ImageSink {
  /** Stores a PNG under {@code key}, replacing any earlier object of that key. */
  void put(String key, byte[] png) throws Exception;

  /**
   * Removes the object {@code key} (a run's result that lost its job to another run); removing an
   * absent object succeeds.
   */
  default void delete(String key) throws Exception {
    throw new UnsupportedOperationException("this sink cannot remove " + key);
  }
}
