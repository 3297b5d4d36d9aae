package dev.fleet.engine.safetensors;

/** A malformed, truncated or mismatched safetensors file; the message names the file and tensor. */
public class SafetensorsException extends RuntimeException {
  public SafetensorsException(String file, String tensor, String problem) {
    super(file + (tensor == null ? "" : " [" + tensor + "]") + ": " + problem);
  }

  public SafetensorsException(String file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
  }
}
