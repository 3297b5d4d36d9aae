package dev.fleet.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.RequeueOutcome;
import dev.fleet.model.store.Lease;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Leases on running jobs, on the real database: the run holding a job's lease heartbeats it and is
 * the only one that may finish the job; the reaper re-queues a job whose lease went unheartbeaten
 * (next attempt through the outbox, FAILED and dead-lettered after the last), once however many
 * gateways reap at the same time.
 *
 * <p>A heartbeat is made old by moving it back an hour; the reaper is asked for leases older than
 * 30 minutes, so the jobs other tests leave running are not touched.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class JobLeasesTest {
  static final Duration EXPIRY = Duration.ofMinutes(30);

  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;

  private Job job(UUID id) {
    return store.find(id).orElseThrow();
  }

  @Test
  void theLeaseHolderHeartbeatsAndFinishesTheJob() {
    UUID id = TestJobs.queued(store).id();
    Lease lease = store.start(id, "w1", 1).orElseThrow();
    assertEquals(new Lease(id, 1, "w1", lease.token()), lease);
    assertTrue(store.heartbeat(lease));
    assertEquals(1, heartbeats(id));
    String key = lease.resultKey("store-test");
    assertEquals("store-test/" + id + "/" + lease.token() + ".png", key);

    assertTrue(store.succeed(lease, key, 123));
    Job done = job(id);
    assertEquals(JobState.SUCCEEDED, done.state());
    assertEquals(key, done.resultKey());
    assertFalse(store.heartbeat(lease), "a finished job's lease is void");
    assertFalse(store.succeed(lease, key, 123), "no second success");
    store.release(lease);
    assertEquals(0, heartbeats(id));
  }

  @Test
  void aJobThatCannotStartGetsNoLease() {
    UUID id = TestJobs.queued(store).id();
    assertTrue(store.start(id, "w1", 2).isEmpty(), "attempt 2 does not exist yet");
    store.requestCancel(id);
    assertTrue(store.start(id, "w1", 1).isEmpty(), "cancelled");
    assertEquals(0, heartbeats(id));
  }

  @Test
  void anExpiredLeaseIsRequeuedAsTheNextAttemptAndTheOldRunCanNoLongerFinish() throws Exception {
    UUID id = TestJobs.queued(store).id();
    Lease lease = store.start(id, "w1", 1).orElseThrow();
    UUID alive = TestJobs.queued(store).id();
    Lease aliveLease = store.start(alive, "w2", 1).orElseThrow();

    assertEquals(0, requeueExpiredOf(id), "heartbeaten just now");
    age(id);
    assertTrue(store.requeueExpired(EXPIRY, 100).requeued() >= 1);

    Job back = job(id);
    assertEquals(JobState.QUEUED, back.state());
    assertEquals(2, back.attempts());
    assertNull(back.worker());
    assertNull(back.finishedAt());
    assertEquals(0, heartbeats(id));
    List<String[]> outbox = outbox(id);
    assertEquals(2, outbox.size(), "the first message, then attempt 2's");
    assertEquals(MemoryClass.VRAM_8G.topic("flux-tiny"), outbox.get(1)[0]);
    assertEquals(2, new ObjectMapper().readTree(outbox.get(1)[1]).get("attempt").asInt());

    // The old run comes back: it can neither keep nor finish the job.
    assertFalse(store.heartbeat(lease));
    assertFalse(store.succeed(lease, lease.resultKey("store-test"), 1));
    assertFalse(store.fail(lease, "ENGINE_ERROR", "late"));
    assertEquals(RequeueOutcome.REFUSED, store.requeue(id, 1, "late"));
    assertEquals(JobState.QUEUED, job(id).state());
    assertEquals(2, outbox(id).size());
    // Attempt 2 runs normally.
    Lease second = store.start(id, "w2", 2).orElseThrow();
    assertNotEquals(lease.token(), second.token());
    assertTrue(store.succeed(second, second.resultKey("store-test"), 1));

    assertEquals(JobState.RUNNING, job(alive).state(), "a heartbeaten job stays");
    assertTrue(store.heartbeat(aliveLease));
  }

  @Test
  void theLastAttemptsExpiredLeaseFailsTheJobToTheDeadLetterTopic() {
    UUID id = TestJobs.queued(store).id();
    for (int attempt = 1; attempt < store.maxAttempts(); attempt++) {
      store.start(id, "w" + attempt, attempt).orElseThrow();
      age(id);
      store.requeueExpired(EXPIRY, 100);
      assertEquals(attempt + 1, job(id).attempts());
    }
    int last = store.maxAttempts();
    store.start(id, "w" + last, last).orElseThrow();
    age(id);
    assertTrue(store.requeueExpired(EXPIRY, 100).deadLettered() >= 1);

    Job failed = job(id);
    assertEquals(JobState.FAILED, failed.state());
    assertEquals(last, failed.attempts());
    assertEquals("RETRIES_EXHAUSTED", failed.errorCode());
    assertTrue(
        failed.errorMessage().contains("lease expired: worker w" + last), failed.errorMessage());
    List<String[]> outbox = outbox(id);
    assertEquals(last + 1, outbox.size());
    assertEquals(JobStore.DEAD_LETTER_TOPIC, outbox.getLast()[0]);
  }

  @Test
  void anExpiredLeaseOfACancelledJobEndsItCancelled() {
    UUID id = TestJobs.queued(store).id();
    store.start(id, "w1", 1).orElseThrow();
    store.requestCancel(id);
    age(id);
    store.requeueExpired(EXPIRY, 100);
    assertEquals(JobState.CANCELLED, job(id).state());
    assertEquals(1, outbox(id).size(), "nothing to deliver");
  }

  @Test
  void aRedeliveryOfTheSameAttemptVoidsTheEarlierRunsLease() {
    UUID id = TestJobs.queued(store).id();
    Lease first = store.start(id, "w1", 1).orElseThrow();
    Lease second = store.start(id, "w2", 1).orElseThrow();
    assertFalse(store.heartbeat(first));
    assertFalse(store.succeed(first, first.resultKey("store-test"), 1));
    assertTrue(store.heartbeat(second));
    assertTrue(store.succeed(second, second.resultKey("store-test"), 1));
    assertEquals(second.resultKey("store-test"), job(id).resultKey());
    assertEquals("w2", job(id).worker());
  }

  @Test
  void gatewaysReapingAtOnceRequeueEachJobOnce() throws Exception {
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      UUID id = TestJobs.queued(store).id();
      store.start(id, "w", 1).orElseThrow();
      ids.add(id);
    }
    ids.forEach(this::age);
    ExecutorService gateways = Executors.newFixedThreadPool(4);
    try {
      List<Callable<JobStore.Reaped>> reapers = new ArrayList<>();
      for (int g = 0; g < 4; g++) {
        // Small batches, so that the gateways interleave.
        reapers.add(() -> loopReap(5));
      }
      for (Future<JobStore.Reaped> f : gateways.invokeAll(reapers)) {
        f.get();
      }
    } finally {
      gateways.shutdownNow();
    }
    for (UUID id : ids) {
      Job j = job(id);
      assertEquals(JobState.QUEUED, j.state(), id.toString());
      assertEquals(2, j.attempts(), "re-queued once: " + id);
      assertEquals(2, outbox(id).size(), "one message for attempt 2: " + id);
    }
  }

  private JobStore.Reaped loopReap(int batch) {
    JobStore.Reaped r;
    int requeued = 0;
    do {
      r = store.requeueExpired(EXPIRY, batch);
      requeued += r.requeued();
    } while (r.total() > 0);
    return new JobStore.Reaped(requeued, 0, 0);
  }

  /** Re-queues expired leases and says whether {@code id} was among them. */
  private int requeueExpiredOf(UUID id) {
    int before = job(id).attempts();
    store.requeueExpired(EXPIRY, 100);
    return job(id).attempts() - before;
  }

  /** The job's last heartbeat an hour ago, as if its worker had died then. */
  private void age(UUID id) {
    sql("UPDATE job_heartbeats SET beat_at = now() - interval '1 hour' WHERE job_id = ?", id);
  }

  private int heartbeats(UUID id) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM job_heartbeats WHERE job_id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private void sql(String sql, UUID id) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, id);
      ps.executeUpdate();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private List<String[]> outbox(UUID id) {
    List<String[]> rows = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT topic, payload FROM outbox WHERE message_key = ? ORDER BY id")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(new String[] {rs.getString(1), rs.getString(2)});
        }
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    return rows;
  }
}
