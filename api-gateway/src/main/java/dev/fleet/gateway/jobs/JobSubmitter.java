package dev.fleet.gateway.jobs;

import dev.fleet.gateway.api.Problem;
import dev.fleet.gateway.api.ProblemException;
import dev.fleet.gateway.api.RetryLaterException;
import dev.fleet.gateway.api.SubmitRequest;
import dev.fleet.gateway.limits.LimitsConfig;
import dev.fleet.gateway.models.Model;
import dev.fleet.gateway.models.ModelRegistry;
import dev.fleet.gateway.outbox.OutboxRelayService;
import dev.fleet.model.FieldError;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.InvalidSpecException;
import dev.fleet.model.memory.ClassRoute;
import dev.fleet.model.store.IdempotencyKeyReusedException;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.model.store.TenantQuotaExceededException;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.random.RandomGenerator;
import java.util.stream.Collectors;

/**
 * Turns a submission into a stored job: the model's defaults, the random seed, validation (every
 * broken field named), the memory class from the planner, then one transaction for the job and its
 * Kafka message (the outbox). Nothing here talks to Kafka: the relay does, so a job the client got
 * a 202 for is in the database with its message, whatever happens to Kafka or to this process next.
 */
@ApplicationScoped
public class JobSubmitter {
  private static final RandomGenerator SEEDS = new SecureRandom();

  private final ModelRegistry models;
  private final JobStore store;
  private final OutboxRelayService relay;
  private final LimitsConfig limits;

  public JobSubmitter(
      ModelRegistry models, JobStore store, OutboxRelayService relay, LimitsConfig limits) {
    this.models = models;
    this.store = store;
    this.relay = relay;
    this.limits = limits;
  }

  /** The stored job for this request, and whether this call created it. */
  public JobStore.Inserted submit(String tenant, String idempotencyKey, SubmitRequest request) {
    GenerationSpec spec = resolve(request);
    Model model = models.find(spec.model()).orElseThrow();
    ClassRoute.Fits route = MemoryAdmission.route(model, spec.width(), spec.height(), 1);
    NewJob job =
        new NewJob(
            UUID.randomUUID(),
            tenant,
            idempotencyKey,
            request.fingerprint(),
            spec,
            route.memoryClass(),
            route.plan().predictedPeakBytes());
    JobStore.Inserted inserted;
    try {
      inserted = store.insert(job, limits.maxActiveJobs(tenant));
    } catch (TenantQuotaExceededException e) {
      throw new RetryLaterException(
          new Problem(
              Problem.TOO_MANY_ACTIVE_JOBS,
              "Too many unfinished jobs",
              429,
              "this tenant has "
                  + e.active()
                  + " jobs queued or running, at most "
                  + e.limit()
                  + " allowed; retry when some have finished",
              null),
          limits.activeJobsRetryAfter().toSeconds());
    } catch (IdempotencyKeyReusedException e) {
      throw new ProblemException(
          new Problem(
              Problem.IDEMPOTENCY_KEY_REUSED,
              "Idempotency key reused",
              422,
              e.getMessage(),
              List.of(new FieldError("Idempotency-Key", "was used for a different request"))));
    }
    if (inserted.created()) {
      relay.nudge();
    }
    return inserted;
  }

  /** The request with the model's defaults filled in, as a valid spec, or a 422 naming fields. */
  GenerationSpec resolve(SubmitRequest r) {
    String modelName = r.model() != null ? r.model() : models.defaultModel().name();
    Model model = models.find(modelName).orElse(null);
    List<FieldError> errors = new ArrayList<>();
    if (model == null) {
      errors.add(
          new FieldError(
              "model",
              "unknown model '"
                  + modelName
                  + "' (known: "
                  + String.join(", ", models.names())
                  + ")"));
    }
    // An unknown model's request still gets the default model's defaults, so that its other
    // fields are checked against the general rules and reported together.
    Model defaults = model != null ? model : models.defaultModel();
    long seed =
        r.seed() == null || r.seed() == -1 ? SEEDS.nextLong(GenerationSpec.MAX_SEED + 1) : r.seed();
    int steps = r.steps() != null ? r.steps() : defaults.defaultSteps();
    int width = r.width() != null ? r.width() : defaults.defaultWidth();
    int height = r.height() != null ? r.height() : defaults.defaultHeight();
    double guidance = r.guidance() != null ? r.guidance() : defaults.defaultGuidance();
    GenerationSpec spec = null;
    try {
      spec = new GenerationSpec(r.prompt(), seed, steps, width, height, guidance, modelName);
    } catch (InvalidSpecException e) {
      errors.addAll(e.errors());
    }
    // The model's narrower ranges, for fields the general rules did not already refuse.
    if (model != null) {
      Set<String> named = errors.stream().map(FieldError::field).collect(Collectors.toSet());
      for (FieldError e : model.check(width, height, steps)) {
        if (!named.contains(e.field())) {
          errors.add(e);
        }
      }
    }
    if (!errors.isEmpty()) {
      throw ProblemException.invalidFields(errors);
    }
    return spec;
  }
}
