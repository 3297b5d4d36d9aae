package dev.fleet.engine.lora;

/**
 * A LoRA file the engine does not understand (an unknown layout, LoKr / LoHa / DoRA, keys that map
 * to no layer, shapes that do not fit the model): never applied in part. The message names the file
 * and the keys.
 */
public class UnsupportedLoraException extends IllegalArgumentException {
  public UnsupportedLoraException(String message) {
    super(message);
  }

  public UnsupportedLoraException(String message, Throwable cause) {
    super(message, cause);
  }
}
