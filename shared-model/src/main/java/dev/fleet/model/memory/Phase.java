package dev.fleet.model.memory;

import java.util.Locale;

/** The parts of a job that run one after the other, each with its own device-memory peak. */
public enum Phase {
  T5,
  CLIP,
  DENOISE,
  DECODE;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
