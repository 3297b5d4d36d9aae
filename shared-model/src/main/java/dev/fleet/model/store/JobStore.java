package dev.fleet.model.store;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.LoraRef;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The jobs table and its outbox, over plain JDBC: the gateway and the workers share this class,
 * each with its own DataSource.
 *
 * <p>Every transition is one guarded UPDATE whose WHERE clause holds the allowed source states (the
 * same table as {@link JobState#next()}), and returns whether it applied. A duplicate or late
 * message therefore changes nothing: it can neither move a job backwards nor finish it twice. A
 * trigger bumps {@code version} and {@code updated_at} and sends {@code pg_notify('job_events',
 * json)} for every change (see {@code V1__jobs.sql}).
 *
 * <p>Messages to Kafka are never sent from here: they are written to the {@code outbox} table in
 * the transaction that creates (or re-queues) the job, and a relay in the gateway sends them.
 */
public final class JobStore {
  /** Where a job goes after its last allowed attempt. */
  public static final String DEAD_LETTER_TOPIC = "jobs-dead-letter";

  public static final int DEFAULT_MAX_ATTEMPTS = 3;
  public static final int MAX_PAGE = 200;

  private static final String COLUMNS =
      "id, tenant, idempotency_key, request_fingerprint, prompt, seed, steps, width, height,"
          + " guidance, model, memory_class, predicted_peak_bytes, state, progress_step,"
          + " progress_steps, attempts, worker, cancel_requested, result_key, result_bytes,"
          + " error_code, error_message, created_at, started_at, finished_at, updated_at, version,"
          + " loras, negative_prompt, cfg_truncation";
  private static final String ACTIVE = "state IN ('QUEUED', 'RUNNING')";

  private final DataSource dataSource;
  private final int maxAttempts;

  public JobStore(DataSource dataSource) {
    this(dataSource, DEFAULT_MAX_ATTEMPTS);
  }

  /**
   * @param maxAttempts attempts a job gets before {@link #requeue} fails it to the dead-letter
   *     topic
   */
  public JobStore(DataSource dataSource, int maxAttempts) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
    }
    this.maxAttempts = maxAttempts;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  /**
   * The outcome of {@link #insert}: the job, whether this call created it, and (for a job it
   * created) its queue position as the insert found it.
   */
  public record Inserted(Job job, boolean created, OptionalLong queuePosition) {
    public Inserted(Job job, boolean created) {
      this(job, created, OptionalLong.empty());
    }
  }

  /**
   * Inserts a QUEUED job and its first Kafka message (into the outbox) in one transaction. With an
   * idempotency key that the tenant used before, inserts nothing and returns the earlier job.
   *
   * @throws IdempotencyKeyReusedException the key was used before for a different request
   */
  public Inserted insert(NewJob job) {
    return insert(job, 0);
  }

  /**
   * As {@link #insert(NewJob)}, refusing the job when its tenant already has {@code maxActive} jobs
   * queued or running (0: no cap). The tenant's submissions are serialized by an advisory lock for
   * the transaction, so concurrent ones cannot pass the cap together; a repeated idempotency key
   * still returns the earlier job.
   *
   * @throws TenantQuotaExceededException the tenant is at its cap
   */
  public Inserted insert(NewJob job, int maxActive) {
    if (maxActive <= 0) {
      // One statement, its own transaction: no BEGIN and COMMIT round trips.
      try (Connection c = dataSource.getConnection()) {
        return insertWithMessage(c, job);
      } catch (SQLException e) {
        throw new JobStoreException("insert job " + job.id(), e);
      }
    }
    try (Connection c = dataSource.getConnection()) {
      return inTransaction(
          c,
          () -> {
            Optional<Inserted> replay = checkCap(c, job, maxActive);
            return replay.isPresent() ? replay.get() : insertWithMessage(c, job);
          });
    } catch (SQLException e) {
      throw new JobStoreException("insert job " + job.id(), e);
    }
  }

  /**
   * The job, its first message into the outbox and its queue position, in one statement (a
   * data-modifying WITH): a repeated idempotency key inserts neither row and returns the earlier
   * job. The position is counted against the jobs queued before this statement (the subquery does
   * not see the new row: alone in its class, the job is first).
   */
  private static Inserted insertWithMessage(Connection c, NewJob job) throws SQLException {
    GenerationSpec s = job.spec();
    String sql =
        "WITH created AS (INSERT INTO jobs AS j (id, tenant, idempotency_key, request_fingerprint,"
            + " prompt, seed, steps, width, height, guidance, model, memory_class,"
            + " predicted_peak_bytes, progress_steps, loras, negative_prompt, cfg_truncation)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING "
            + COLUMNS
            + ", "
            + QUEUE_COLUMNS
            + "),"
            + " message AS (INSERT INTO outbox (topic, message_key, payload)"
            + " SELECT ?, ?, ? FROM created)"
            // The job's webhook: a trigger (V4_2__job_webhooks.sql) writes its terminal event to
            // webhook_deliveries in the transaction that finishes the job.
            + (job.webhook() != null
                ? ", hook AS (INSERT INTO job_webhooks (job_id, url) SELECT id, ? FROM created)"
                : "")
            + " SELECT * FROM created";
    JobMessage message = JobMessage.of(job.id(), job.tenant(), s, job.memoryClass(), 1);
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, job.id());
      ps.setString(2, job.tenant());
      ps.setString(3, job.idempotencyKey());
      ps.setString(4, job.requestFingerprint());
      ps.setString(5, s.prompt());
      ps.setLong(6, s.seed());
      ps.setInt(7, s.steps());
      ps.setInt(8, s.width());
      ps.setInt(9, s.height());
      ps.setDouble(10, s.guidance());
      ps.setString(11, s.model());
      ps.setString(12, job.memoryClass().className());
      ps.setLong(13, job.predictedPeakBytes());
      ps.setInt(14, s.steps());
      ps.setString(15, s.loras().isEmpty() ? null : LoraRef.toJson(s.loras()));
      ps.setString(16, s.negativePrompt());
      ps.setObject(17, s.cfgTruncation(), java.sql.Types.DOUBLE);
      ps.setString(18, job.memoryClass().topic(s.model()));
      ps.setString(19, job.id().toString());
      ps.setString(20, message.toJson());
      if (job.webhook() != null) {
        ps.setString(21, job.webhook().toString());
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          Ticketed created = ticketed(rs);
          return new Inserted(created.job(), true, created.queuePosition());
        }
      }
    }
    return new Inserted(existing(c, job), false);
  }

  /** Under the tenant's lock: the earlier job of a repeated key, or nothing if under the cap. */
  private static Optional<Inserted> checkCap(Connection c, NewJob job, int maxActive)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext('fleet.jobs.tenant:' || ?))")) {
      ps.setString(1, job.tenant());
      ps.executeQuery().close();
    }
    if (job.idempotencyKey() != null) {
      try (PreparedStatement ps =
          c.prepareStatement("SELECT 1 FROM jobs WHERE tenant = ? AND idempotency_key = ?")) {
        ps.setString(1, job.tenant());
        ps.setString(2, job.idempotencyKey());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            return Optional.of(new Inserted(existing(c, job), false));
          }
        }
      }
    }
    long active = countActive(c, job.tenant());
    if (active >= maxActive) {
      throw new TenantQuotaExceededException(job.tenant(), active, maxActive);
    }
    return Optional.empty();
  }

  private static long countActive(Connection c, String tenant) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT count(*) FROM jobs WHERE tenant = ? AND " + ACTIVE)) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** How many of the tenant's jobs are queued or running. */
  public long countActive(String tenant) {
    try (Connection c = dataSource.getConnection()) {
      return countActive(c, tenant);
    } catch (SQLException e) {
      throw new JobStoreException("count active jobs of " + tenant, e);
    }
  }

  private static Job existing(Connection c, NewJob job) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT " + COLUMNS + " FROM jobs WHERE tenant = ? AND idempotency_key = ?")) {
      ps.setString(1, job.tenant());
      ps.setString(2, job.idempotencyKey());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          // ON CONFLICT found the row, so it exists: only a concurrent delete could get here.
          throw new SQLException("idempotency key conflict without a row");
        }
        Job earlier = job(rs);
        if (!Objects.equals(rs.getString("request_fingerprint"), job.requestFingerprint())) {
          throw new IdempotencyKeyReusedException(job.idempotencyKey(), earlier.id());
        }
        return earlier;
      }
    }
  }

  public Optional<Job> find(UUID id) {
    return query("find job " + id, "SELECT " + COLUMNS + " FROM jobs WHERE id = ?", id);
  }

  /** The job {@code id} if it belongs to {@code tenant}; another tenant's job is not found. */
  public Optional<Job> find(UUID id, String tenant) {
    return query(
        "find job " + id,
        "SELECT " + COLUMNS + " FROM jobs WHERE id = ? AND tenant = ?",
        id,
        Objects.requireNonNull(tenant, "tenant"));
  }

  /**
   * A worker takes attempt {@code attempt} of the job: from QUEUED, or from RUNNING with the same
   * attempt (Kafka redelivered the message after a worker died or lost its partition; progress
   * starts over). Refused for a stale attempt and for a finished job. As {@link #start}, for
   * callers that need no lease.
   */
  public boolean markRunning(UUID id, String worker, int attempt) {
    return start(id, worker, attempt).isPresent();
  }

  /**
   * As {@link #markRunning}, and the run gets the job's lease: a new token on the job row (any
   * earlier run's token is void from now on) and a first heartbeat, in one transaction. Empty when
   * the job cannot be started.
   */
  public Optional<Lease> start(UUID id, String worker, int attempt) {
    Lease lease = new Lease(id, attempt, worker, UUID.randomUUID());
    String sql =
        "UPDATE jobs SET state = 'RUNNING', worker = ?, started_at = now(), progress_step = 0,"
            + " lease = ? WHERE id = ? AND attempts = ? AND "
            + ACTIVE;
    String beat =
        "INSERT INTO job_heartbeats (job_id, lease, worker) VALUES (?, ?, ?) ON CONFLICT (job_id)"
            + " DO UPDATE SET lease = excluded.lease, worker = excluded.worker, beat_at = now()";
    try (Connection c = dataSource.getConnection()) {
      return inTransaction(
          c,
          () -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              bind(ps, worker, lease.token(), id, attempt);
              if (ps.executeUpdate() != 1) {
                return Optional.<Lease>empty();
              }
            }
            try (PreparedStatement ps = c.prepareStatement(beat)) {
              bind(ps, id, lease.token(), worker);
              ps.executeUpdate();
            }
            return Optional.of(lease);
          });
    } catch (SQLException e) {
      throw new JobStoreException("start " + id, e);
    }
  }

  /**
   * The run is alive: refreshes its heartbeat. False once the lease is no longer the job's (the job
   * finished, was re-queued or started by another run): the run should stop, its result would be
   * refused.
   */
  public boolean heartbeat(Lease lease) {
    return update(
        "heartbeat " + lease.jobId(),
        "UPDATE job_heartbeats h SET beat_at = now() FROM jobs j WHERE h.job_id = ? AND h.lease = ?"
            + " AND j.id = h.job_id AND j.lease = h.lease AND j.state = 'RUNNING'",
        lease.jobId(),
        lease.token());
  }

  /** The run has ended: its heartbeat row goes (a no-op when another run holds the job now). */
  public void release(Lease lease) {
    update(
        "release " + lease.jobId(),
        "DELETE FROM job_heartbeats WHERE job_id = ? AND lease = ?",
        lease.jobId(),
        lease.token());
  }

  /** Records that step {@code step} of {@code steps} is done; only while RUNNING and forward. */
  public boolean progress(UUID id, int step, int steps) {
    if (step < 1 || step > steps) {
      throw new IllegalArgumentException("step " + step + " of " + steps + " is out of range");
    }
    return update(
        "progress " + id,
        "UPDATE jobs SET progress_step = ?, progress_steps = ?"
            + " WHERE id = ? AND state = 'RUNNING' AND progress_step < ?",
        step,
        steps,
        id,
        step);
  }

  /** RUNNING → SUCCEEDED with the image's object key and size. */
  public boolean succeed(UUID id, String resultKey, long bytes) {
    return update(
        "succeed " + id,
        "UPDATE jobs SET state = 'SUCCEEDED', result_key = ?, result_bytes = ?, finished_at = now(),"
            + " progress_step = progress_steps WHERE id = ? AND state = 'RUNNING'",
        resultKey,
        bytes,
        id);
  }

  /** QUEUED or RUNNING → FAILED with a machine-readable code and a message for people. */
  public boolean fail(UUID id, String code, String message) {
    return finish("fail " + id, JobState.FAILED, id, code, message);
  }

  /**
   * RUNNING → SUCCEEDED for the run that holds the job's lease, with its image's object key and
   * size. False for a run whose lease is void (the reaper re-queued the job, or another run took
   * it): that run's result is not the job's, and the run removes its object.
   */
  public boolean succeed(Lease lease, String resultKey, long bytes) {
    return update(
        "succeed " + lease.jobId(),
        "UPDATE jobs SET state = 'SUCCEEDED', result_key = ?, result_bytes = ?, finished_at = now(),"
            + " progress_step = progress_steps, lease = NULL"
            + " WHERE id = ? AND state = 'RUNNING' AND lease = ?",
        resultKey,
        bytes,
        lease.jobId(),
        lease.token());
  }

  /** RUNNING → FAILED for the run that holds the job's lease; false for a void lease. */
  public boolean fail(Lease lease, String code, String message) {
    return update(
        "fail " + lease.jobId(),
        "UPDATE jobs SET state = 'FAILED', error_code = ?, error_message = ?, finished_at = now(),"
            + " lease = NULL WHERE id = ? AND state = 'RUNNING' AND lease = ?",
        code,
        message,
        lease.jobId(),
        lease.token());
  }

  /** QUEUED or RUNNING → TIMED_OUT. */
  public boolean timeOut(UUID id, String message) {
    return finish("time out " + id, JobState.TIMED_OUT, id, "TIMED_OUT", message);
  }

  /**
   * Times out, in one statement, every job queued for longer than {@code queued} or running (since
   * its last start) for longer than {@code running}: for the jobs whose worker hangs or whose class
   * has no worker. Safe to run from several gateways at once.
   *
   * @return how many jobs timed out
   */
  public int timeOutStale(Duration queued, Duration running) {
    String sql =
        "UPDATE jobs SET state = 'TIMED_OUT', error_code = 'TIMED_OUT', finished_at = now(),"
            + " error_message = CASE WHEN state = 'QUEUED'"
            + "   THEN 'no worker took the job within ' || ? ELSE 'the job ran longer than ' || ? END"
            + " WHERE (state = 'QUEUED' AND created_at < now() - ? * interval '1 millisecond')"
            + " OR (state = 'RUNNING' AND started_at < now() - ? * interval '1 millisecond')";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, human(queued));
      ps.setString(2, human(running));
      ps.setLong(3, queued.toMillis());
      ps.setLong(4, running.toMillis());
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw new JobStoreException("time out stale jobs", e);
    }
  }

  private static String human(Duration d) {
    return d.toString().substring(2).toLowerCase(Locale.ROOT);
  }

  /**
   * QUEUED or RUNNING → CANCELLED. The worker calls this once it has stopped a job whose
   * cancellation was requested; the API uses {@link #requestCancel}.
   */
  public boolean cancel(UUID id) {
    return update(
        "cancel " + id,
        "UPDATE jobs SET state = 'CANCELLED', cancel_requested = true, finished_at = now()"
            + " WHERE id = ? AND "
            + ACTIVE,
        id);
  }

  private boolean finish(String what, JobState state, UUID id, String code, String message) {
    return update(
        what,
        "UPDATE jobs SET state = ?, error_code = ?, error_message = ?, finished_at = now()"
            + " WHERE id = ? AND "
            + ACTIVE,
        state.name(),
        code,
        message,
        id);
  }

  /** What {@link #requestCancel} did. */
  public enum CancelOutcome {
    /** The job was queued and is now CANCELLED. */
    CANCELLED,
    /** The job is running; its worker stops it at the next step. */
    REQUESTED,
    /** The job had already finished; nothing changed. */
    ALREADY_FINISHED,
    NOT_FOUND
  }

  /**
   * The user's cancellation: a queued job is cancelled at once (its Kafka message, when it comes,
   * finds it finished), a running one is flagged for its worker.
   */
  public CancelOutcome requestCancel(UUID id) {
    return requestCancel(id, null);
  }

  /**
   * As {@link #requestCancel(UUID)}, for a job of {@code tenant} only (null: any tenant); another
   * tenant's job is {@link CancelOutcome#NOT_FOUND} and stays as it is.
   */
  public CancelOutcome requestCancel(UUID id, String tenant) {
    String sql =
        "UPDATE jobs SET cancel_requested = true,"
            + " state = CASE WHEN state = 'QUEUED' THEN 'CANCELLED' ELSE state END,"
            + " finished_at = CASE WHEN state = 'QUEUED' THEN now() ELSE finished_at END"
            + " WHERE id = ? AND "
            + ACTIVE
            + (tenant == null ? "" : " AND tenant = ?")
            + " RETURNING state";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, id);
      if (tenant != null) {
        ps.setString(2, tenant);
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          return JobState.valueOf(rs.getString(1)) == JobState.CANCELLED
              ? CancelOutcome.CANCELLED
              : CancelOutcome.REQUESTED;
        }
      }
    } catch (SQLException e) {
      throw new JobStoreException("request cancel " + id, e);
    }
    Optional<Job> job = tenant == null ? find(id) : find(id, tenant);
    return job.isPresent() ? CancelOutcome.ALREADY_FINISHED : CancelOutcome.NOT_FOUND;
  }

  /** Whether the user asked to stop the job: the worker checks between steps. */
  public boolean cancelRequested(UUID id) {
    String sql = "SELECT cancel_requested FROM jobs WHERE id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    } catch (SQLException e) {
      throw new JobStoreException("read cancel flag " + id, e);
    }
  }

  /** What {@link #requeue} did. */
  public enum RequeueOutcome {
    /** QUEUED again with the next attempt, whose message is in the outbox. */
    REQUEUED,
    /** That was the last allowed attempt: FAILED, and the message went to the dead-letter topic. */
    DEAD_LETTERED,
    /** Its cancellation had been requested: CANCELLED instead of another attempt. */
    CANCELLED,
    /** Not RUNNING at that attempt (finished, re-queued already, or unknown): nothing changed. */
    REFUSED
  }

  /**
   * Attempt {@code attempt} of a running job hit a transient fault (or its worker crashed): the job
   * goes back to QUEUED as attempt + 1 and its next message is written to the outbox, in one
   * transaction. After {@link #maxAttempts()} attempts it ends FAILED ({@code RETRIES_EXHAUSTED})
   * and its message goes to {@link #DEAD_LETTER_TOPIC} instead.
   */
  public RequeueOutcome requeue(UUID id, int attempt, String reason) {
    String sql =
        "UPDATE jobs SET "
            + requeueSet(maxAttempts, "CAST(? AS text)")
            + " WHERE id = ? AND state = 'RUNNING' AND attempts = ? RETURNING "
            + COLUMNS;
    try (Connection c = dataSource.getConnection()) {
      return inTransaction(
          c,
          () -> {
            Optional<Job> updated;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              bind(ps, reason, id, attempt);
              updated = one(ps);
            }
            return updated.isEmpty() ? RequeueOutcome.REFUSED : announceRequeued(c, updated.get());
          });
    } catch (SQLException e) {
      throw new JobStoreException("requeue " + id, e);
    }
  }

  /**
   * The SET clause of a re-queue (after a fault or an expired lease): QUEUED as attempt + 1, or
   * FAILED ({@code RETRIES_EXHAUSTED}) after the last attempt, or CANCELLED when that was asked;
   * the job's lease is void either way. {@code reason} is the SQL expression of the fault (a
   * parameter or a column expression), kept in the error message of an exhausted job.
   */
  private static String requeueSet(int maxAttempts, String reason) {
    String last = "attempts >= " + maxAttempts;
    return " state = CASE WHEN cancel_requested THEN 'CANCELLED'"
        + ("   WHEN " + last + " THEN 'FAILED' ELSE 'QUEUED' END,")
        + (" error_code = CASE WHEN NOT cancel_requested AND " + last)
        + "   THEN 'RETRIES_EXHAUSTED' END,"
        + (" error_message = CASE WHEN NOT cancel_requested AND " + last)
        + ("   THEN 'gave up after " + maxAttempts + " attempts; last: ' || " + reason + " END,")
        + (" finished_at = CASE WHEN cancel_requested OR " + last + " THEN now() END,")
        + (" attempts = CASE WHEN NOT cancel_requested AND NOT " + last)
        + "   THEN attempts + 1 ELSE attempts END,"
        + " worker = NULL, progress_step = 0, lease = NULL";
  }

  /** After a re-queue, in its transaction: the next attempt's message, or the dead letter. */
  private static RequeueOutcome announceRequeued(Connection c, Job j) throws SQLException {
    return switch (j.state()) {
      case QUEUED -> {
        enqueue(c, j.memoryClass().topic(j.spec().model()), j.message());
        yield RequeueOutcome.REQUEUED;
      }
      case FAILED -> {
        enqueue(c, DEAD_LETTER_TOPIC, j.message());
        yield RequeueOutcome.DEAD_LETTERED;
      }
      case CANCELLED -> RequeueOutcome.CANCELLED;
      default -> throw new IllegalStateException("requeue produced " + j.state());
    };
  }

  /** What {@link #requeueExpired} did, job by job. */
  public record Reaped(int requeued, int deadLettered, int cancelled) {
    public int total() {
      return requeued + deadLettered + cancelled;
    }
  }

  /**
   * Re-queues, as {@link #requeue} does for a fault, every running job whose lease holder has not
   * heartbeaten for {@code expiry} (its worker died, hangs or lost the database): attempt + 1 and
   * its message in the outbox, or FAILED and dead-lettered after the last attempt. The lease
   * becomes void, so the old run, should it come back, cannot finish the job. At most {@code limit}
   * jobs per call. Safe to run from several gateways at once: each job is taken by one of them
   * ({@code FOR UPDATE SKIP LOCKED}) and re-checked under its row lock.
   */
  public Reaped requeueExpired(Duration expiry, int limit) {
    String sql =
        "WITH expired AS (SELECT j.id FROM jobs j JOIN job_heartbeats h"
            + " ON h.job_id = j.id AND h.lease = j.lease"
            + " WHERE j.state = 'RUNNING' AND h.beat_at < now() - ? * interval '1 millisecond'"
            + " ORDER BY h.beat_at LIMIT ? FOR UPDATE OF j SKIP LOCKED)"
            + " UPDATE jobs SET "
            + requeueSet(
                maxAttempts,
                "'lease expired: worker ' || coalesce(jobs.worker, '?') || ' stopped heartbeating'")
            + " FROM expired WHERE jobs.id = expired.id AND jobs.state = 'RUNNING' RETURNING jobs.*";
    try (Connection c = dataSource.getConnection()) {
      return inTransaction(
          c,
          () -> {
            List<Job> jobs = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              bind(ps, expiry.toMillis(), limit);
              try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                  jobs.add(job(rs));
                }
              }
            }
            int requeued = 0;
            int dead = 0;
            int cancelled = 0;
            try (PreparedStatement ps =
                c.prepareStatement("DELETE FROM job_heartbeats WHERE job_id = ?")) {
              for (Job j : jobs) {
                switch (announceRequeued(c, j)) {
                  case REQUEUED -> requeued++;
                  case DEAD_LETTERED -> dead++;
                  default -> cancelled++;
                }
                ps.setObject(1, j.id());
                ps.executeUpdate();
              }
            }
            return new Reaped(requeued, dead, cancelled);
          });
    } catch (SQLException e) {
      throw new JobStoreException("requeue jobs with expired leases", e);
    }
  }

  /**
   * A draining worker gives attempt {@code attempt} of a running job back unfinished: the job goes
   * back to QUEUED with the same attempt number (a shutdown is no fault of the job's, so it spends
   * no attempt) and its message is written to the outbox again, in one transaction. A job whose
   * cancellation was requested ends CANCELLED instead. Refused ({@link RequeueOutcome#REFUSED})
   * unless the job is RUNNING at that attempt: a finished job is never touched.
   */
  public RequeueOutcome handBack(UUID id, int attempt) {
    String sql =
        "UPDATE jobs SET"
            + " state = CASE WHEN cancel_requested THEN 'CANCELLED' ELSE 'QUEUED' END,"
            + " finished_at = CASE WHEN cancel_requested THEN now() END,"
            + " worker = NULL, progress_step = 0, lease = NULL"
            + " WHERE id = ? AND state = 'RUNNING' AND attempts = ? RETURNING "
            + COLUMNS;
    try (Connection c = dataSource.getConnection()) {
      return inTransaction(
          c,
          () -> {
            Optional<Job> updated;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              ps.setObject(1, id);
              ps.setInt(2, attempt);
              updated = one(ps);
            }
            if (updated.isEmpty()) {
              return RequeueOutcome.REFUSED;
            }
            Job j = updated.get();
            return switch (j.state()) {
              case QUEUED -> {
                enqueue(c, j.memoryClass().topic(j.spec().model()), j.message());
                yield RequeueOutcome.REQUEUED;
              }
              case CANCELLED -> RequeueOutcome.CANCELLED;
              default -> throw new IllegalStateException("hand back produced " + j.state());
            };
          });
    } catch (SQLException e) {
      throw new JobStoreException("hand back " + id, e);
    }
  }

  /**
   * A queued job's position in its class's queue, 1 for the next job a worker of its class takes;
   * empty unless the job is QUEUED. An estimate in constant time (see {@link #queuePosition(long,
   * OptionalLong)}).
   */
  public OptionalLong queuePosition(UUID id) {
    return findWithPosition(id).map(Found::queuePosition).orElse(OptionalLong.empty());
  }

  /**
   * The queue columns of a row of {@code jobs} (aliased {@code j}): {@code queue_ticket}, drawn
   * when the job entered QUEUED, and, for a queued job, {@code queue_head}, the smallest ticket
   * still queued in its class (one probe of the partial index {@code jobs_queue_head}, the same
   * cost for any queue length). {@link Ticketed#queuePosition} turns them into the position.
   */
  private static final String QUEUE_COLUMNS =
      "j.queue_ticket AS queue_ticket, CASE WHEN j.state = 'QUEUED' THEN (SELECT"
          + " min(h.queue_ticket) FROM jobs h WHERE h.memory_class = j.memory_class"
          + " AND h.state = 'QUEUED') END AS queue_head";

  private static final String QUEUE_HEAD =
      "SELECT min(queue_ticket) AS queue_head FROM jobs WHERE memory_class = ? AND state = 'QUEUED'";

  /**
   * A job with what its queue position is computed from: its ticket (present only while it is
   * QUEUED) and the head of its class's queue (the smallest ticket queued there; empty when none
   * is, or when the job is not queued) as one statement read them.
   */
  public record Ticketed(Job job, OptionalLong queueTicket, OptionalLong queueHead) {
    public Ticketed {
      Objects.requireNonNull(job, "job");
      if (queueTicket.isPresent() && job.state() != JobState.QUEUED) {
        throw new IllegalArgumentException(
            "only a QUEUED job has a queue ticket: job " + job.id() + " is " + job.state());
      }
    }

    /** The position as {@link #queuePosition(long, OptionalLong)} computes it. */
    public OptionalLong queuePosition() {
      return queueTicket.isPresent()
          ? OptionalLong.of(JobStore.queuePosition(queueTicket.getAsLong(), queueHead))
          : OptionalLong.empty();
    }
  }

  /**
   * A queued job's position in its class's queue, 1 for the next job a worker of its class takes:
   * its ticket minus the head's, plus one (1 when the head is unknown or past it). Exact while jobs
   * leave a class's queue from its head; a job that left from the middle (cancelled, or taken out
   * of order) still counts for those behind it until the head passes it, so the estimate may read
   * high, never low (see {@code V4__queue_tickets.sql}).
   */
  public static long queuePosition(long ticket, OptionalLong head) {
    return Math.max(1, ticket - head.orElse(ticket) + 1);
  }

  /** The {@link #QUEUE_COLUMNS} of the current row, with its job. */
  private static Ticketed ticketed(ResultSet rs) throws SQLException {
    Job job = job(rs);
    return new Ticketed(
        job,
        job.state() == JobState.QUEUED ? nullableLong(rs, "queue_ticket") : OptionalLong.empty(),
        nullableLong(rs, "queue_head"));
  }

  private static OptionalLong nullableLong(ResultSet rs, String column) throws SQLException {
    long n = rs.getLong(column);
    return rs.wasNull() ? OptionalLong.empty() : OptionalLong.of(n);
  }

  /** A job as read for the API, with its queue position while it is queued. */
  public record Found(Job job, OptionalLong queuePosition) {}

  /** The job and its queue position, in one indexed query. */
  public Optional<Found> findWithPosition(UUID id) {
    return findTicketed(id).map(t -> new Found(t.job(), t.queuePosition()));
  }

  /** As {@link #findWithPosition(UUID)}, only if the job belongs to {@code tenant}. */
  public Optional<Found> findWithPosition(UUID id, String tenant) {
    return queryTicketed("find job " + id, " AND j.tenant = ?", id, Objects.requireNonNull(tenant))
        .map(t -> new Found(t.job(), t.queuePosition()));
  }

  /**
   * The job of any tenant with its ticket and its class's queue head, in one indexed query: what a
   * cache of job reads keeps (the caller checks the tenant).
   */
  public Optional<Ticketed> findTicketed(UUID id) {
    return queryTicketed("find job " + id, "", id);
  }

  /** The smallest ticket queued in {@code memoryClass}, empty when none is queued there. */
  public OptionalLong queueHead(MemoryClass memoryClass) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(QUEUE_HEAD)) {
      ps.setString(1, memoryClass.className());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return nullableLong(rs, "queue_head");
      }
    } catch (SQLException e) {
      throw new JobStoreException("queue head of " + memoryClass.className(), e);
    }
  }

  private Optional<Ticketed> queryTicketed(String what, String filter, Object... args) {
    String sql =
        "SELECT " + COLUMNS + ", " + QUEUE_COLUMNS + " FROM jobs j WHERE j.id = ?" + filter;
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, args);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(ticketed(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new JobStoreException(what, e);
    }
  }

  /** One page of a listing, and the cursor of the next page if there is one. */
  public record Page(List<Job> jobs, Optional<String> nextCursor) {}

  /**
   * A tenant's jobs, newest first, optionally only those in {@code states}.
   *
   * @param cursor from an earlier page's {@link Page#nextCursor()}, or null for the first page
   * @throws IllegalArgumentException the cursor is not one this method made
   */
  public Page list(String tenant, Set<JobState> states, int limit, String cursor) {
    if (limit < 1 || limit > MAX_PAGE) {
      throw new IllegalArgumentException("limit must be between 1 and " + MAX_PAGE);
    }
    Cursor after = cursor == null ? null : Cursor.decode(cursor);
    StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM jobs WHERE tenant = ?");
    List<Object> args = new ArrayList<>(List.of(tenant));
    if (states != null && !states.isEmpty()) {
      sql.append(" AND state = ANY (?)");
      args.add(states.stream().map(Enum::name).toArray(String[]::new));
    }
    if (after != null) {
      sql.append(" AND (created_at, id) < (?, ?)");
      args.add(OffsetDateTime.ofInstant(after.createdAt(), ZoneOffset.UTC));
      args.add(after.id());
    }
    sql.append(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.add(limit + 1);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql.toString())) {
      for (int i = 0; i < args.size(); i++) {
        Object a = args.get(i);
        if (a instanceof String[] array) {
          ps.setArray(i + 1, c.createArrayOf("text", array));
        } else {
          ps.setObject(i + 1, a);
        }
      }
      List<Job> jobs = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          jobs.add(job(rs));
        }
      }
      if (jobs.size() <= limit) {
        return new Page(jobs, Optional.empty());
      }
      Job last = jobs.get(limit - 1);
      return new Page(
          List.copyOf(jobs.subList(0, limit)),
          Optional.of(new Cursor(last.createdAt(), last.id()).encode()));
    } catch (SQLException e) {
      throw new JobStoreException("list jobs of " + tenant, e);
    }
  }

  /** How many jobs are in each state, per memory class (absent combinations are zero). */
  public Map<JobState, Map<MemoryClass, Long>> countByStateAndClass() {
    Map<JobState, Map<MemoryClass, Long>> counts = new EnumMap<>(JobState.class);
    String sql = "SELECT state, memory_class, count(*) FROM jobs GROUP BY state, memory_class";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        JobState state = JobState.valueOf(rs.getString(1));
        MemoryClass mc = MemoryClass.byName(rs.getString(2)).orElse(null);
        if (mc != null) {
          counts
              .computeIfAbsent(state, k -> new EnumMap<>(MemoryClass.class))
              .put(mc, rs.getLong(3));
        }
      }
    } catch (SQLException e) {
      throw new JobStoreException("count jobs", e);
    }
    return counts;
  }

  /** Listing position: after (created_at, id), newest first. Opaque to clients. */
  record Cursor(Instant createdAt, UUID id) {
    String encode() {
      long micros = createdAt.getEpochSecond() * 1_000_000L + createdAt.getNano() / 1_000;
      String raw = micros + ":" + id;
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static Cursor decode(String cursor) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
        int colon = raw.indexOf(':');
        long micros = Long.parseLong(raw.substring(0, colon));
        Instant at =
            Instant.ofEpochSecond(
                Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000);
        return new Cursor(at, UUID.fromString(raw.substring(colon + 1)));
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        throw new IllegalArgumentException("not a cursor from this listing: " + cursor);
      }
    }
  }

  private static void enqueue(Connection c, String topic, JobMessage message) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("INSERT INTO outbox (topic, message_key, payload) VALUES (?, ?, ?)")) {
      ps.setString(1, topic);
      ps.setString(2, message.jobId().toString());
      ps.setString(3, message.toJson());
      ps.executeUpdate();
    }
  }

  private boolean update(String what, String sql, Object... args) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, args);
      return ps.executeUpdate() == 1;
    } catch (SQLException e) {
      throw new JobStoreException(what, e);
    }
  }

  private Optional<Job> query(String what, String sql, Object... args) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, args);
      return one(ps);
    } catch (SQLException e) {
      throw new JobStoreException(what, e);
    }
  }

  private static void bind(PreparedStatement ps, Object... args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      ps.setObject(i + 1, args[i]);
    }
  }

  private static Optional<Job> one(PreparedStatement ps) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      return rs.next() ? Optional.of(job(rs)) : Optional.empty();
    }
  }

  private static Job job(ResultSet rs) throws SQLException {
    GenerationSpec spec =
        new GenerationSpec(
            rs.getString("prompt"),
            rs.getLong("seed"),
            rs.getInt("steps"),
            rs.getInt("width"),
            rs.getInt("height"),
            rs.getDouble("guidance"),
            rs.getString("model"),
            LoraRef.fromJson(rs.getString("loras")),
            rs.getString("negative_prompt"),
            rs.getObject("cfg_truncation", Double.class));
    long resultBytes = rs.getLong("result_bytes");
    Long bytes = rs.wasNull() ? null : resultBytes;
    return new Job(
        rs.getObject("id", UUID.class),
        rs.getString("tenant"),
        rs.getString("idempotency_key"),
        spec,
        MemoryClass.byName(rs.getString("memory_class"))
            .orElseThrow(() -> new SQLException("unknown memory class in jobs row")),
        rs.getLong("predicted_peak_bytes"),
        JobState.valueOf(rs.getString("state")),
        rs.getInt("progress_step"),
        rs.getInt("progress_steps"),
        rs.getInt("attempts"),
        rs.getString("worker"),
        rs.getBoolean("cancel_requested"),
        rs.getString("result_key"),
        bytes,
        rs.getString("error_code"),
        rs.getString("error_message"),
        instant(rs, "created_at"),
        instant(rs, "started_at"),
        instant(rs, "finished_at"),
        instant(rs, "updated_at"),
        rs.getLong("version"));
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }

  private interface Work<T> {
    T run() throws SQLException;
  }

  private static <T> T inTransaction(Connection c, Work<T> work) throws SQLException {
    boolean autoCommit = c.getAutoCommit();
    c.setAutoCommit(false);
    try {
      T result = work.run();
      c.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(autoCommit);
    }
  }
}
