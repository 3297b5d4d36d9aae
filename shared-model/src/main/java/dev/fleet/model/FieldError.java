package dev.fleet.model;

/** One invalid field of a request: which field and what is wrong with it. */
public record FieldError(String field, String message) {
  @Override
  public String toString() {
    return field + ": " + message;
  }
}
