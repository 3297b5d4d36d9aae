package dev.fleet.gateway.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.fleet.gateway.storage.ResultStorage;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.LoraRef;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * A job as the API shows it ({@code GET /v1/jobs/{id}}, the 202 of a submission, list items and the
 * status events of a stream). Absent parts are left out: {@code queuePosition} exists only while
 * queued, {@code error} only for a failure, {@code result} only for a success.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobView(
    UUID id,
    JobState status,
    Spec spec,
    Progress progress,
    int attempts,
    @Schema(
            description =
                "While queued: an estimate of the job's place in its memory class's queue, 1 for"
                    + " the next job a worker of that class takes. Exact while jobs leave the queue"
                    + " in order; a job ahead that left out of order (cancelled) may still be"
                    + " counted until the queue passes it, so it may read high, never low.")
        Long queuePosition,
    boolean cancelRequested,
    Plan plan,
    Error error,
    Result result,
    Instant createdAt,
    Instant startedAt,
    Instant finishedAt,
    Instant updatedAt,
    Links links) {

  /**
   * What was asked for, defaults and the chosen seed filled in; the classifier-free guidance fields
   * only when the job has them.
   */
  public record Spec(
      String prompt,
      long seed,
      int steps,
      int width,
      int height,
      double guidance,
      @JsonInclude(JsonInclude.Include.NON_NULL) String negativePrompt,
      @JsonInclude(JsonInclude.Include.NON_NULL) Double cfgTruncation,
      String model,
      List<LoraRef> loras) {}

  public record Progress(int step, int steps) {}

  /** Where the job was routed: the memory class and the predicted peak GPU memory. */
  public record Plan(String memoryClass, long predictedPeakBytes) {}

  public record Error(String code, String message) {}

  /** The image: a presigned GET link that expires at {@code expiresAt}. */
  public record Result(
      URI url, Instant expiresAt, int width, int height, long seed, Long bytes, String key) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Links(String self, String events, String image) {}

  /**
   * @param queuePosition null unless queued
   * @param storage signs the result link of a succeeded job
   */
  public static JobView of(Job job, Long queuePosition, ResultStorage storage) {
    GenerationSpec s = job.spec();
    Error error = job.errorCode() == null ? null : new Error(job.errorCode(), job.errorMessage());
    Result result = null;
    if (job.state() == JobState.SUCCEEDED && job.resultKey() != null) {
      ResultStorage.PresignedLink link = storage.presignedGet(job.resultKey());
      result =
          new Result(
              link.url(),
              link.expiresAt(),
              s.width(),
              s.height(),
              s.seed(),
              job.resultBytes(),
              job.resultKey());
    }
    String self = "/v1/jobs/" + job.id();
    return new JobView(
        job.id(),
        job.state(),
        new Spec(
            s.prompt(),
            s.seed(),
            s.steps(),
            s.width(),
            s.height(),
            s.guidance(),
            // Absent for a job without them (every FLUX job), as before they existed.
            s.negativePrompt().isEmpty() ? null : s.negativePrompt(),
            s.cfgTruncation(),
            s.model(),
            s.loras()),
        new Progress(job.step(), job.steps()),
        job.attempts(),
        job.state() == JobState.QUEUED ? queuePosition : null,
        job.cancelRequested(),
        new Plan(job.memoryClass().className(), job.predictedPeakBytes()),
        error,
        result,
        job.createdAt(),
        job.startedAt(),
        job.finishedAt(),
        job.updatedAt(),
        new Links(self, self + "/events", result != null ? self + "/image" : null));
  }
}
