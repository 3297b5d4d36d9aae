package dev.fleet.gateway.limits;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.problem.Problem;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * A request body larger than {@code fleet.limits.max-body-bytes} (by its Content-Length) gets a 413
 * with problem details before anything reads it. The HTTP server's own limit ({@code
 * quarkus.http.limits.max-body-size}, set higher) remains for bodies sent without a length, which
 * it cuts off.
 */
@ApplicationScoped
public class BodySizeLimit {
  private final LimitsConfig limits;
  private final ObjectMapper json;

  public BodySizeLimit(LimitsConfig limits, ObjectMapper json) {
    this.limits = limits;
    this.json = json;
  }

  void install(@Observes Router router) {
    router
        .route()
        .order(Integer.MIN_VALUE)
        .handler(
            ctx -> {
              String length = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
              if (length != null && tooLarge(length)) {
                Problem p =
                    new Problem(
                        Problem.BODY_TOO_LARGE,
                        "Request body too large",
                        413,
                        "the request body has "
                            + length.strip()
                            + " bytes, at most "
                            + limits.maxBodyBytes()
                            + " allowed",
                        null);
                ctx.response()
                    .setStatusCode(413)
                    .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
                    .putHeader(HttpHeaders.CONNECTION, "close")
                    .end(write(p));
                return;
              }
              ctx.next();
            });
  }

  private boolean tooLarge(String length) {
    try {
      return Long.parseLong(length.strip()) > limits.maxBodyBytes();
    } catch (NumberFormatException e) {
      return false; // the HTTP server refuses a malformed length itself
    }
  }

  private String write(Problem p) {
    try {
      return json.writeValueAsString(p);
    } catch (JsonProcessingException e) {
      return "{\"status\":413,\"title\":\"Request body too large\"}";
    }
  }
}
