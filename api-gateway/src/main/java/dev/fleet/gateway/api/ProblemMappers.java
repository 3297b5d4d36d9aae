package dev.fleet.gateway.api;

import com.fasterxml.jackson.core.JacksonException;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.gateway.problem.RetryLaterException;
import dev.fleet.model.store.JobStoreException;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.util.UUID;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * Turns every failure into an {@code application/problem+json} response. Details are written for
 * the client: no exception class names, no stack traces. Unexpected failures are logged with an id
 * that the response repeats.
 */
public class ProblemMappers {
  private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

  @ServerExceptionMapper
  public Response problem(ProblemException e) {
    return respond(e.problem());
  }

  /** A limit (429), with Retry-After. */
  @ServerExceptionMapper
  public Response retryLater(RetryLaterException e) {
    return Response.status(429)
        .type(Problem.MEDIA_TYPE)
        .header("Retry-After", Long.toString(e.retryAfterSeconds()))
        .entity(e.problem())
        .build();
  }

  /** No key (401). */
  @ServerExceptionMapper
  public Response unauthorized(UnauthorizedException e) {
    return unauthorized("send an API key: Authorization: Bearer <key>");
  }

  /** A key that is malformed, unknown or revoked, or another kind of Authorization (401). */
  @ServerExceptionMapper
  public Response authenticationFailed(AuthenticationFailedException e) {
    if (e.getCause() instanceof JobStoreException store) {
      return store(store);
    }
    return unauthorized("the API key is not valid (unknown, revoked, or not Bearer <key>)");
  }

  /** A valid key without the role (403). */
  @ServerExceptionMapper
  public Response forbidden(ForbiddenException e) {
    return respond(
        new Problem(
            Problem.FORBIDDEN,
            "Forbidden",
            403,
            "this API key may not do that (admin only)",
            null));
  }

  private static Response unauthorized(String detail) {
    Problem p = new Problem(Problem.UNAUTHORIZED, "Unauthorized", 401, detail, null);
    return Response.status(401)
        .type(Problem.MEDIA_TYPE)
        .header("WWW-Authenticate", "Bearer realm=\"fleet\"")
        .entity(p)
        .build();
  }

  /** JAX-RS's own refusals: unknown path (404), wrong method (405), content type (415), ... */
  @ServerExceptionMapper
  public Response http(WebApplicationException e) {
    int status = e.getResponse().getStatus();
    if (status >= 500) {
      return unexpected(e);
    }
    Response.StatusType type = Response.Status.fromStatusCode(status);
    String title = type != null ? type.getReasonPhrase() : "HTTP " + status;
    String detail =
        switch (status) {
          case 404 -> "there is no such resource";
          case 405 -> "this resource does not support that method";
          case 406 -> "this resource answers application/json (or text/event-stream for events)";
          case 413 -> "the request body is too large";
          case 415 -> "send the request body as application/json";
          default -> title;
        };
    return respond(new Problem("about:blank", title, status, detail, null));
  }

  /** A JSON body that the framework itself parsed and found broken. */
  @ServerExceptionMapper
  public Response json(JacksonException e) {
    return respond(
        new Problem(
            Problem.MALFORMED_REQUEST,
            "Malformed request",
            400,
            "the body is not valid JSON",
            null));
  }

  @ServerExceptionMapper
  public Response store(JobStoreException e) {
    LOG.warn("job store unavailable", e);
    return respond(
        new Problem(
            Problem.UNAVAILABLE,
            "Service unavailable",
            503,
            "the job store cannot be reached; retry later",
            null));
  }

  @ServerExceptionMapper
  public Response unexpected(Throwable e) {
    String id = UUID.randomUUID().toString();
    LOG.errorf(e, "unexpected failure %s", id);
    return respond(
        new Problem(
            "about:blank",
            "Internal Server Error",
            500,
            "an unexpected error occurred (reference " + id + ")",
            null));
  }

  static Response respond(Problem p) {
    return Response.status(p.status()).type(Problem.MEDIA_TYPE).entity(p).build();
  }
}
