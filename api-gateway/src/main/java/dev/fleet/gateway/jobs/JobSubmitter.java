package dev.fleet.gateway.jobs;

import dev.fleet.gateway.limits.LimitsConfig;
import dev.fleet.gateway.loras.LoraLibrary;
import dev.fleet.gateway.loras.LorasConfig;
import dev.fleet.gateway.models.Model;
import dev.fleet.gateway.models.ModelRegistry;
import dev.fleet.gateway.outbox.OutboxRelayService;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.gateway.problem.RetryLaterException;
import dev.fleet.gateway.webhooks.Webhooks;
import dev.fleet.model.FieldError;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.InvalidSpecException;
import dev.fleet.model.LoraRef;
import dev.fleet.model.memory.AdapterLoad;
import dev.fleet.model.memory.ClassRoute;
import dev.fleet.model.store.IdempotencyKeyReusedException;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.model.store.TenantQuotaExceededException;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.URI;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
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
  private final LoraLibrary loras;
  private final LorasConfig lorasConfig;
  private final Webhooks webhooks;

  public JobSubmitter(
      ModelRegistry models,
      JobStore store,
      OutboxRelayService relay,
      LimitsConfig limits,
      LoraLibrary loras,
      LorasConfig lorasConfig,
      Webhooks webhooks) {
    this.models = models;
    this.store = store;
    this.relay = relay;
    this.limits = limits;
    this.loras = loras;
    this.lorasConfig = lorasConfig;
    this.webhooks = webhooks;
  }

  /** The stored job for this request, and whether this call created it. */
  public JobStore.Inserted submit(String tenant, String idempotencyKey, SubmitRequest request) {
    GenerationSpec spec = resolve(request);
    URI webhook = request.webhook() == null ? null : webhooks.check(request.webhook());
    Model model = models.find(spec.model()).orElseThrow();
    ClassRoute.Fits route =
        ClassAdmission.route(model, spec.width(), spec.height(), 1, adapters(spec.loras()));
    NewJob job =
        new NewJob(
            UUID.randomUUID(),
            tenant,
            idempotencyKey,
            request.fingerprint(),
            spec,
            route.memoryClass(),
            route.plan().predictedPeakBytes(),
            webhook);
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
    List<LoraRef> loraRefs = loras(r.loras(), errors);
    GenerationSpec spec = null;
    try {
      spec =
          new GenerationSpec(
              r.prompt(),
              seed,
              steps,
              width,
              height,
              guidance,
              modelName,
              loraRefs,
              r.negativePrompt(),
              r.cfgTruncation());
    } catch (InvalidSpecException e) {
      errors.addAll(e.errors());
    }
    // The model's narrower ranges, for fields the general rules did not already refuse.
    if (model != null) {
      Set<String> named = errors.stream().map(FieldError::field).collect(Collectors.toSet());
      List<FieldError> own = new ArrayList<>(model.check(width, height, steps));
      own.addAll(model.checkGuidanceFields(r.negativePrompt(), r.cfgTruncation()));
      for (FieldError e : own) {
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

  /**
   * The request's LoRAs, checked against the LoRA directory and the limits; what breaks a rule is
   * added to {@code errors} (and left out of the result, so the spec's own rules do not name it
   * twice).
   */
  private List<LoraRef> loras(List<SubmitRequest.LoraRequest> requested, List<FieldError> errors) {
    List<LoraRef> out = new ArrayList<>();
    if (requested == null || requested.isEmpty()) {
      return out;
    }
    int max = lorasConfig.maxPerJob();
    if (requested.size() > max) {
      errors.add(
          new FieldError(
              "loras", "has " + requested.size() + " LoRAs, at most " + max + " allowed"));
    }
    double maxStrength = lorasConfig.maxStrength();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < requested.size(); i++) {
      SubmitRequest.LoraRequest l = requested.get(i);
      String at = "loras[" + i + "]";
      boolean ok = true;
      String problem = LoraRef.nameProblem(l.name());
      if (problem != null) {
        errors.add(new FieldError(at + ".name", problem));
        ok = false;
      } else {
        Optional<LoraLibrary.Info> info = loras.find(l.name());
        if (info.isEmpty()) {
          List<String> known = loras.list().stream().map(LoraLibrary.Info::name).toList();
          errors.add(
              new FieldError(
                  at + ".name",
                  "unknown LoRA '"
                      + l.name()
                      + "' (available: "
                      + (known.isEmpty() ? "none" : String.join(", ", known))
                      + ")"));
          ok = false;
        } else if (!info.get().usable()) {
          errors.add(
              new FieldError(
                  at + ".name", "LoRA '" + l.name() + "' cannot be used: " + info.get().problem()));
          ok = false;
        } else if (!seen.add(l.name())) {
          errors.add(new FieldError(at + ".name", "LoRA '" + l.name() + "' is named twice"));
          ok = false;
        }
      }
      double strength = l.strength() == null ? 1.0 : l.strength();
      if (!(strength >= -maxStrength && strength <= maxStrength)) {
        errors.add(
            new FieldError(
                at + ".strength",
                "must be between -"
                    + fmt(maxStrength)
                    + " and "
                    + fmt(maxStrength)
                    + ", got "
                    + l.strength()));
        ok = false;
      }
      if (ok) {
        out.add(new LoraRef(l.name(), strength));
      }
    }
    return out;
  }

  private static String fmt(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }

  /** What the job's LoRAs add to GPU memory: their factors in fp16 and their ranks, summed. */
  private AdapterLoad adapters(List<LoraRef> refs) {
    long bytes = 0;
    long rank = 0;
    for (LoraRef r : refs) {
      Optional<LoraLibrary.Info> info = loras.find(r.name());
      if (info.isPresent()) {
        bytes += info.get().deviceBytes();
        rank += info.get().rank();
      }
    }
    return bytes == 0 ? AdapterLoad.NONE : new AdapterLoad(bytes, rank);
  }
}
