package dev.fleet.model.memory;

import java.util.Locale;

/** Where a component's weights live between the jobs and phases that use them. */
public enum Residency {
  /** On the device for the worker's lifetime. */
  RESIDENT,
  /**
   * Loaded from pinned host memory for its phase, run, and released before the next phase (text
   * encoders before the DiT runs, the autoencoder for the decode). A text encoder's outputs are
   * cached across jobs, so a cache hit loads nothing.
   */
  STAGED,
  /**
   * Layer by layer from pinned host memory during its phase: at most two layers on the device, the
   * one computing and the next arriving (T5 under budgets that cannot hold it whole).
   */
  STREAMED;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
