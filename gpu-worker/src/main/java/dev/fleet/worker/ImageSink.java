package dev.fleet.worker;

/** Where finished images go; the worker's only contact with object storage. */
@FunctionalInterface
public interface ImageSink {
  /** Stores a PNG under {@code key}, replacing any earlier attempt's object. */
  void put(String key, byte[] png) throws Exception;
}
