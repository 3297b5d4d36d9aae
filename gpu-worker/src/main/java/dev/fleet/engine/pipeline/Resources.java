package dev.fleet.engine.pipeline;

/** Closing a pipeline's resources together. */
public final class Resources {
  private Resources() {}

  /**
   * Closes each non-null resource in order; a failure to close one does not keep the rest open
   * (closing the rest matters more than one failure to close).
   */
  public static void closeQuietly(AutoCloseable... resources) {
    for (AutoCloseable r : resources) {
      if (r != null) {
        try {
          r.close();
        } catch (Exception ignored) {
          // the next resource is closed all the same
        }
      }
    }
  }
}
