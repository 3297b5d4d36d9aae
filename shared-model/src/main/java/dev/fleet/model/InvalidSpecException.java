package dev.fleet.model;

import java.util.List;
import java.util.stream.Collectors;

/** A generation request that breaks the rules; carries every broken rule, field by field. */
public class InvalidSpecException extends IllegalArgumentException {
  private final List<FieldError> errors;

  public InvalidSpecException(List<FieldError> errors) {
    super(errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
    this.errors = List.copyOf(errors);
  }

  public List<FieldError> errors() {
    return errors;
  }
}
