package dev.fleet.engine.cli;

/** A command line the engine cannot act on; its message says what to change. */
final class UsageException extends RuntimeException {
  UsageException(String message) {
    super(message);
  }
}
