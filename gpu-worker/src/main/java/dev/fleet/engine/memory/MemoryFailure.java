package dev.fleet.engine.memory;

import ai.djl.engine.EngineException;
import java.util.Locale;

/** Recognises the failures that a more frugal memory plan can cure. */
public final class MemoryFailure {
  private MemoryFailure() {}

  /**
   * True for a refused ledger booking and for the device's own out-of-memory error (DJL wraps
   * PyTorch's {@code CUDA out of memory} in an {@link EngineException}), anywhere in the cause
   * chain.
   */
  public static boolean isMemoryFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof BudgetExceededException) {
        return true;
      }
      if (t instanceof EngineException
          && t.getMessage() != null
          && t.getMessage().toLowerCase(Locale.ROOT).contains("out of memory")) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }
}
