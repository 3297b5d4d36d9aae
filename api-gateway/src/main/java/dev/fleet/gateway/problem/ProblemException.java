package dev.fleet.gateway.problem;

import dev.fleet.model.FieldError;
import java.util.List;

/** Ends a request with a problem response; thrown by the API and its services. */
public class ProblemException extends RuntimeException {
  private final transient Problem problem;

  public ProblemException(Problem problem) {
    super(problem.title() + ": " + problem.detail(), null, false, false);
    this.problem = problem;
  }

  public Problem problem() {
    return problem;
  }

  /** 422: the request is well-formed but these fields break the rules. */
  public static ProblemException invalidFields(List<FieldError> errors) {
    return new ProblemException(
        new Problem(
            Problem.INVALID_FIELDS,
            "Invalid request fields",
            422,
            errors.stream().map(FieldError::toString).reduce((a, b) -> a + "; " + b).orElse(""),
            errors));
  }

  /** 400: the request does not have the shape of one (types, unknown fields, parameters). */
  public static ProblemException malformed(String detail, List<FieldError> errors) {
    return new ProblemException(
        new Problem(Problem.MALFORMED_REQUEST, "Malformed request", 400, detail, errors));
  }

  public static ProblemException jobNotFound(String id) {
    return new ProblemException(
        new Problem(Problem.JOB_NOT_FOUND, "Job not found", 404, "no job has the id " + id, null));
  }
}
