package dev.fleet.gateway.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.auth.Caller;
import dev.fleet.gateway.events.JobEventHub;
import dev.fleet.gateway.events.JobSnapshots;
import dev.fleet.gateway.jobs.JobSubmitter;
import dev.fleet.gateway.jobs.SubmitRequest;
import dev.fleet.gateway.limits.LimitsConfig;
import dev.fleet.gateway.limits.SubmitLimiter;
import dev.fleet.gateway.metrics.FleetMetrics;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.gateway.reads.JobReads;
import dev.fleet.gateway.storage.ResultStorage;
import dev.fleet.model.FieldError;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.store.JobStore;
import io.micrometer.core.instrument.Timer;
import io.quarkus.security.Authenticated;
import io.quarkus.security.identity.SecurityIdentity;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.CacheControl;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.EntityTag;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Request;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import java.net.URI;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.ParameterIn;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The jobs API, {@code /v1/jobs}: submit, follow, list, cancel, fetch the image. Every call needs
 * an API key, and sees and changes only the jobs of the key's tenant: another tenant's job is not
 * found (404), whatever the call.
 */
@Path("/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@Authenticated
@Tag(name = "jobs", description = "Text-to-image jobs of the caller's tenant")
public class JobsResource {
  static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
  private static final int MAX_IDEMPOTENCY_KEY = 255;
  private static final int DEFAULT_LIMIT = 20;

  private final JobSubmitter submitter;
  private final JobStore store;
  private final JobReads reads;
  private final ResultStorage storage;
  private final JobEventHub hub;
  private final JobSnapshots snapshots;
  private final ObjectMapper json;
  private final SecurityIdentity identity;
  private final SubmitLimiter limiter;
  private final LimitsConfig limits;
  private final Timer submitTimer;

  public JobsResource(
      JobSubmitter submitter,
      JobStore store,
      JobReads reads,
      ResultStorage storage,
      JobEventHub hub,
      JobSnapshots snapshots,
      ObjectMapper json,
      SecurityIdentity identity,
      SubmitLimiter limiter,
      LimitsConfig limits,
      FleetMetrics metrics) {
    this.submitter = submitter;
    this.store = store;
    this.reads = reads;
    this.storage = storage;
    this.hub = hub;
    this.snapshots = snapshots;
    this.json = json;
    this.identity = identity;
    this.limiter = limiter;
    this.limits = limits;
    this.submitTimer = metrics.submitTimer();
  }

  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  @Operation(operationId = "submitJob", summary = "Submit a text-to-image job")
  @RequestBody(content = @Content(schema = @Schema(implementation = SubmitRequest.class)))
  @APIResponse(
      responseCode = "202",
      description = "Stored and queued (or, for a repeated Idempotency-Key, the earlier job)",
      content = @Content(schema = @Schema(implementation = JobView.class)))
  @APIResponse(
      responseCode = "400",
      description = "Not JSON, or a field of the wrong type",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "413",
      description = "The body is larger than 64 KiB",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "415",
      description = "Not application/json",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "422",
      description =
          "Invalid fields (named in errors; the prompt has at most 2000 characters), or too large for every GPU class",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "429",
      description =
          "The key submits faster than its rate, or the tenant has as many jobs queued or running as it may: see Retry-After",
      headers =
          @Header(
              name = "Retry-After",
              description = "seconds to wait",
              schema = @Schema(type = SchemaType.INTEGER)),
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public Response submit(String body, @HeaderParam(IDEMPOTENCY_HEADER) String idempotencyKey) {
    Timer.Sample sample = Timer.start();
    String tenant = Caller.tenant(identity);
    limiter.admit(Caller.keyId(identity), tenant);
    bodySize(body);
    String key = idempotencyKey(idempotencyKey);
    SubmitRequest request = SubmitRequest.parse(json, body);
    JobStore.Inserted inserted = submitter.submit(tenant, key, request);
    Job job = inserted.job();
    JobView view =
        inserted.queuePosition().isPresent()
            ? JobView.of(job, inserted.queuePosition().getAsLong(), storage)
            : view(job);
    sample.stop(submitTimer);
    Response.ResponseBuilder r =
        Response.accepted(view).location(URI.create("/v1/jobs/" + job.id()));
    if (!inserted.created()) {
      r.header("Idempotent-Replayed", "true");
    }
    return r.build();
  }

  @GET
  @Path("{id}")
  @Operation(
      operationId = "getJob",
      summary = "A job's status, progress, plan, error or result link",
      description =
          "Answers carry an ETag (except a succeeded job's, whose result link is signed anew each"
              + " time) and Cache-Control: private, no-cache (no-store with a result link)."
              + " A poller that sends the ETag back in If-None-Match gets 304 Not Modified, without"
              + " a body, until the job or its queue position changes. The answer may come from the"
              + " gateway's memory (fleet.jobs.read-cache-enabled): then it trails a change made"
              + " elsewhere (by a worker, another gateway) by PostgreSQL's notification delay, as"
              + " the event stream does; a cancellation through this gateway shows at once.")
  @Parameter(
      name = "If-None-Match",
      in = ParameterIn.HEADER,
      description = "The ETag of the answer the client already has: 304 while it is still current",
      schema = @Schema(type = SchemaType.STRING))
  @APIResponse(
      responseCode = "200",
      description = "The job",
      headers = {
        @Header(
            name = "ETag",
            description =
                "The job's version and, while queued, its queue position; absent once succeeded",
            schema = @Schema(type = SchemaType.STRING)),
        @Header(
            name = "Cache-Control",
            description = "no-cache, private (no-store, private for a succeeded job)",
            schema = @Schema(type = SchemaType.STRING))
      },
      content = @Content(schema = @Schema(implementation = JobView.class)))
  @APIResponse(
      responseCode = "304",
      description = "Not modified: the ETag in If-None-Match is still the job's",
      headers = {
        @Header(
            name = "ETag",
            description = "The current ETag (the one sent)",
            schema = @Schema(type = SchemaType.STRING)),
        @Header(
            name = "Cache-Control",
            description = "no-cache, private",
            schema = @Schema(type = SchemaType.STRING))
      })
  @APIResponse(
      responseCode = "404",
      description = "No such job (another tenant's job is not found either)",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public Response get(@PathParam("id") String id, @Context Request request) {
    JobStore.Found found =
        reads
            .find(uuid(id), Caller.tenant(identity))
            .orElseThrow(() -> ProblemException.jobNotFound(id));
    Job job = found.job();
    Long position = boxed(found.queuePosition());
    CacheControl cache = JobCaching.cacheControl(job);
    Optional<EntityTag> etag = JobCaching.etag(job, position);
    if (etag.isPresent()) {
      Response.ResponseBuilder notModified = request.evaluatePreconditions(etag.get());
      if (notModified != null) {
        return notModified.cacheControl(cache).build();
      }
    }
    return Response.ok(JobView.of(job, position, storage))
        .tag(etag.orElse(null))
        .cacheControl(cache)
        .build();
  }

  @GET
  @Operation(
      operationId = "listJobs",
      summary = "The tenant's jobs, newest first, optionally by status")
  @APIResponse(
      responseCode = "200",
      description = "One page of the caller's tenant's jobs",
      content = @Content(schema = @Schema(implementation = JobPage.class)))
  @APIResponse(
      responseCode = "400",
      description =
          "An unknown status, a limit outside 1 to 200, or a cursor not from this listing",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public JobPage list(
      @QueryParam("status") List<String> status,
      @QueryParam("limit") String limit,
      @QueryParam("cursor") String cursor) {
    String tenant = Caller.tenant(identity);
    Set<JobState> states = states(status);
    int n = limit(limit);
    JobStore.Page page;
    try {
      page = store.list(tenant, states, n, cursor == null || cursor.isEmpty() ? null : cursor);
    } catch (IllegalArgumentException e) {
      throw ProblemException.malformed(
          "cursor: not one from this listing",
          List.of(new FieldError("cursor", "is not a cursor from this listing")));
    }
    List<JobView> views = new ArrayList<>(page.jobs().size());
    for (Job job : page.jobs()) {
      views.add(JobView.of(job, null, storage));
    }
    return new JobPage(views, page.nextCursor().orElse(null));
  }

  @DELETE
  @Path("{id}")
  @Operation(
      operationId = "cancelJob",
      summary = "Cancel a job",
      description =
          "A queued job is cancelled at once (200); a running one stops at its next step (202)")
  @APIResponse(
      responseCode = "200",
      description = "Cancelled",
      content = @Content(schema = @Schema(implementation = JobView.class)))
  @APIResponse(
      responseCode = "202",
      description = "Cancellation requested from the worker",
      content = @Content(schema = @Schema(implementation = JobView.class)))
  @APIResponse(
      responseCode = "404",
      description = "No such job (another tenant's job is not found either)",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "409",
      description = "The job had already finished",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public Response cancel(@PathParam("id") String id) {
    UUID uuid = uuid(id);
    JobStore.CancelOutcome outcome = store.requestCancel(uuid, Caller.tenant(identity));
    reads.changed(uuid);
    if (outcome == JobStore.CancelOutcome.NOT_FOUND) {
      throw ProblemException.jobNotFound(id);
    }
    Job job = find(id);
    return switch (outcome) {
      case CANCELLED -> Response.ok(view(job)).build();
      case REQUESTED -> Response.accepted(view(job)).build();
      default -> {
        if (job.state() == JobState.CANCELLED) {
          yield Response.ok(view(job)).build(); // cancelling twice is no error
        }
        throw new ProblemException(
            new Problem(
                Problem.JOB_FINISHED,
                "Job already finished",
                409,
                "job " + id + " is " + job.state() + " and can no longer be cancelled",
                null));
      }
    };
  }

  @GET
  @Path("{id}/image")
  @Produces(MediaType.WILDCARD)
  @Operation(
      operationId = "getJobImage",
      summary = "The image: a redirect (303) to its presigned link, or the link (?redirect=false)")
  @APIResponse(
      responseCode = "200",
      description = "With ?redirect=false: the presigned link and when it expires",
      content = @Content(schema = @Schema(implementation = ImageLink.class)))
  @APIResponse(
      responseCode = "303",
      description = "See the Location header: the presigned link",
      headers =
          @Header(
              name = "Location",
              description = "the presigned link",
              schema = @Schema(type = SchemaType.STRING)))
  @APIResponse(
      responseCode = "400",
      description = "redirect is neither true nor false",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "404",
      description = "No such job (another tenant's job is not found either)",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  @APIResponse(
      responseCode = "409",
      description = "The job has no image (yet)",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public Response image(
      @PathParam("id") String id,
      @Parameter(description = "false: answer the link as JSON instead of redirecting to it")
          @QueryParam("redirect")
          String redirect) {
    boolean follow = redirect == null || redirect.equalsIgnoreCase("true");
    if (!follow && !redirect.equalsIgnoreCase("false")) {
      throw ProblemException.malformed(
          "redirect: true or false", List.of(new FieldError("redirect", "must be true or false")));
    }
    Job job = find(id);
    if (job.state() != JobState.SUCCEEDED || job.resultKey() == null) {
      throw new ProblemException(
          new Problem(
              Problem.NO_IMAGE_YET,
              "No image",
              409,
              "job "
                  + id
                  + " is "
                  + job.state()
                  + (job.state().terminal() ? " and has no image" : ": no image yet"),
              null));
    }
    ResultStorage.PresignedLink link = storage.presignedGet(job.resultKey());
    if (!follow) {
      return Response.ok(new ImageLink(link.url().toString(), link.expiresAt()))
          .type(MediaType.APPLICATION_JSON)
          .build();
    }
    return Response.seeOther(link.url()).build();
  }

  /** The image's presigned link ({@code ?redirect=false}). */
  public record ImageLink(String url, java.time.Instant expiresAt) {}

  @GET
  @Path("{id}/events")
  @Produces(MediaType.SERVER_SENT_EVENTS)
  @Blocking
  @Operation(
      operationId = "streamJobEvents",
      summary = "Server-Sent Events: the job now, then status and progress events until it ends",
      description =
          "The first and the last event: status carry the whole job (as GET /v1/jobs/{id});"
              + " in between, event: status (the state moved) and event: progress (a step) carry"
              + " {id, status, step, steps, attempts, cancelRequested}. The stream closes after"
              + " the terminal status.")
  @APIResponse(
      responseCode = "200",
      description = "The stream (text/event-stream)",
      content =
          @Content(
              mediaType = MediaType.SERVER_SENT_EVENTS,
              schema = @Schema(type = SchemaType.STRING)))
  @APIResponse(
      responseCode = "404",
      description = "No such job (another tenant's job is not found either)",
      content =
          @Content(
              mediaType = Problem.MEDIA_TYPE,
              schema = @Schema(implementation = Problem.class)))
  public void events(@PathParam("id") String id, @Context SseEventSink sink, @Context Sse sse) {
    UUID uuid = find(id).id();
    Thread.ofVirtual()
        .name("sse-" + uuid)
        .start(new JobEventStream(uuid, sink, sse, store, snapshots, storage, hub, json));
  }

  private Job find(String id) {
    return store
        .find(uuid(id), Caller.tenant(identity))
        .orElseThrow(() -> ProblemException.jobNotFound(id));
  }

  private JobView view(Job job) {
    Long position = job.state() == JobState.QUEUED ? boxed(store.queuePosition(job.id())) : null;
    return JobView.of(job, position, storage);
  }

  private static Long boxed(OptionalLong n) {
    return n.isPresent() ? n.getAsLong() : null;
  }

  private static UUID uuid(String id) {
    try {
      return UUID.fromString(id);
    } catch (IllegalArgumentException e) {
      throw ProblemException.jobNotFound(id);
    }
  }

  /** A body sent without a Content-Length gets here whatever its size: the same cap. */
  private void bodySize(String body) {
    long bytes = body == null ? 0 : body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (bytes > limits.maxBodyBytes()) {
      throw new ProblemException(
          new Problem(
              Problem.BODY_TOO_LARGE,
              "Request body too large",
              413,
              "the request body has "
                  + bytes
                  + " bytes, at most "
                  + limits.maxBodyBytes()
                  + " allowed",
              null));
    }
  }

  private static String idempotencyKey(String key) {
    if (key == null) {
      return null;
    }
    if (key.isBlank() || key.length() > MAX_IDEMPOTENCY_KEY) {
      throw ProblemException.malformed(
          IDEMPOTENCY_HEADER + ": 1 to " + MAX_IDEMPOTENCY_KEY + " characters",
          List.of(
              new FieldError(
                  IDEMPOTENCY_HEADER, "must have 1 to " + MAX_IDEMPOTENCY_KEY + " characters")));
    }
    return key;
  }

  private static Set<JobState> states(List<String> params) {
    Set<JobState> states = EnumSet.noneOf(JobState.class);
    for (String param : params) {
      for (String s : param.split(",")) {
        if (s.isBlank()) {
          continue;
        }
        try {
          states.add(JobState.valueOf(s.trim().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw ProblemException.malformed(
              "status: unknown status " + s,
              List.of(
                  new FieldError(
                      "status", "must be one of " + EnumSet.allOf(JobState.class) + ", got " + s)));
        }
      }
    }
    return states;
  }

  private static int limit(String limit) {
    if (limit == null || limit.isEmpty()) {
      return DEFAULT_LIMIT;
    }
    try {
      int n = Integer.parseInt(limit);
      if (n >= 1 && n <= JobStore.MAX_PAGE) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw ProblemException.malformed(
        "limit: 1 to " + JobStore.MAX_PAGE,
        List.of(
            new FieldError(
                "limit", "must be an integer from 1 to " + JobStore.MAX_PAGE + ", got " + limit)));
  }
}
