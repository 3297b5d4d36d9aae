package dev.fleet.engine.checkpoint;

import dev.fleet.engine.safetensors.SafetensorsException;

/**
 * A file that matches none of the layouts the engine knows for what it was given as; the message
 * names the layouts tried and the first keys that did not fit (the engine CLI exits 2 on it).
 */
public class UnrecognisedCheckpointException extends SafetensorsException {
  public UnrecognisedCheckpointException(String file, String problem) {
    super(file, null, problem);
  }
}
