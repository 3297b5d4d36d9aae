package dev.fleet.gateway.problem;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.fleet.model.FieldError;
import java.util.List;

/**
 * An RFC 9457 problem detail, as every error of the API is answered ({@code
 * application/problem+json}). {@code errors} names the request fields at fault.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Problem(
    String type, String title, int status, String detail, List<FieldError> errors) {

  public static final String MEDIA_TYPE = "application/problem+json";

  /** The problem types this API uses, each a stable URN clients may switch on. */
  public static final String INVALID_FIELDS = "urn:fleet:problem:invalid-fields";

  public static final String MALFORMED_REQUEST = "urn:fleet:problem:malformed-request";
  public static final String TOO_LARGE_FOR_GPUS = "urn:fleet:problem:too-large-for-gpus";
  public static final String IDEMPOTENCY_KEY_REUSED = "urn:fleet:problem:idempotency-key-reused";
  public static final String JOB_NOT_FOUND = "urn:fleet:problem:job-not-found";
  public static final String JOB_FINISHED = "urn:fleet:problem:job-finished";
  public static final String NO_IMAGE_YET = "urn:fleet:problem:no-image-yet";
  public static final String UNAVAILABLE = "urn:fleet:problem:unavailable";
  public static final String UNAUTHORIZED = "urn:fleet:problem:unauthorized";
  public static final String FORBIDDEN = "urn:fleet:problem:forbidden";
  public static final String KEY_NOT_FOUND = "urn:fleet:problem:key-not-found";
  public static final String RATE_LIMITED = "urn:fleet:problem:rate-limited";
  public static final String TOO_MANY_ACTIVE_JOBS = "urn:fleet:problem:too-many-active-jobs";
  public static final String BODY_TOO_LARGE = "urn:fleet:problem:body-too-large";

  public Problem {
    errors = errors == null ? List.of() : List.copyOf(errors);
  }
}
