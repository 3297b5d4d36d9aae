package dev.fleet.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.IdempotencyKeyReusedException;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.CancelOutcome;
import dev.fleet.model.store.JobStore.RequeueOutcome;
import dev.fleet.model.store.NewJob;
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
import org.junit.jupiter.api.Test;

/** The SQL state guards of the shared-model JobStore, on the real database. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class JobStoreGuardsTest {
  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;

  private Job job(UUID id) {
    return store.find(id).orElseThrow();
  }

  @Test
  void aJobRunsReportsAndFinishesOnce() {
    UUID id = TestJobs.queued(store).id();
    assertFalse(store.progress(id, 1, 4), "no progress before RUNNING");
    assertFalse(store.succeed(id, "k", 1), "a queued job cannot succeed");

    assertTrue(store.markRunning(id, "w1", 1));
    assertEquals(JobState.RUNNING, job(id).state());
    assertEquals("w1", job(id).worker());
    assertNotNull(job(id).startedAt());

    assertTrue(store.progress(id, 1, 4));
    assertTrue(store.progress(id, 3, 4));
    assertFalse(store.progress(id, 2, 4), "a late step does not move progress backwards");
    assertFalse(store.progress(id, 3, 4), "a duplicate step changes nothing");
    assertEquals(3, job(id).step());

    assertTrue(store.succeed(id, "store-test/" + id + ".png", 1234));
    assertFalse(store.succeed(id, "other.png", 99), "no second success");
    assertFalse(store.fail(id, "LATE", "a late failure"), "a finished job cannot fail");
    assertFalse(store.timeOut(id, "late"));
    assertFalse(store.cancel(id));
    assertFalse(store.markRunning(id, "w2", 1), "a redelivered message cannot restart it");
    assertFalse(store.progress(id, 4, 4));

    Job done = job(id);
    assertEquals(JobState.SUCCEEDED, done.state());
    assertEquals("store-test/" + id + ".png", done.resultKey());
    assertEquals(1234L, done.resultBytes());
    assertEquals(4, done.step());
    assertNull(done.errorCode());
    assertNotNull(done.finishedAt());
  }

  @Test
  void aRedeliveryOfTheSameAttemptRestartsButAStaleAttemptIsRefused() {
    UUID id = TestJobs.queued(store).id();
    assertFalse(store.markRunning(id, "w1", 2), "attempt 2 does not exist yet");
    assertTrue(store.markRunning(id, "w1", 1));
    assertTrue(store.progress(id, 2, 4));
    // The worker died; Kafka hands attempt 1 to another worker.
    assertTrue(store.markRunning(id, "w2", 1));
    assertEquals("w2", job(id).worker());
    assertEquals(0, job(id).step());

    assertEquals(RequeueOutcome.REQUEUED, store.requeue(id, 1, "CUDA error: device lost"));
    Job requeued = job(id);
    assertEquals(JobState.QUEUED, requeued.state());
    assertEquals(2, requeued.attempts());
    assertNull(requeued.worker());
    assertEquals(RequeueOutcome.REFUSED, store.requeue(id, 1, "twice"), "only once per attempt");
    assertFalse(store.markRunning(id, "w3", 1), "attempt 1's message is stale now");
    assertTrue(store.markRunning(id, "w3", 2));
  }

  @Test
  void theLastAttemptGoesToTheDeadLetterTopic() throws Exception {
    UUID id = TestJobs.queued(store).id();
    for (int attempt = 1; attempt < store.maxAttempts(); attempt++) {
      assertTrue(store.markRunning(id, "w", attempt));
      assertEquals(RequeueOutcome.REQUEUED, store.requeue(id, attempt, "transient"));
    }
    int last = store.maxAttempts();
    assertTrue(store.markRunning(id, "w", last));
    assertEquals(RequeueOutcome.DEAD_LETTERED, store.requeue(id, last, "out of memory"));
    Job failed = job(id);
    assertEquals(JobState.FAILED, failed.state());
    assertEquals("RETRIES_EXHAUSTED", failed.errorCode());
    assertTrue(failed.errorMessage().contains("out of memory"), failed.errorMessage());

    List<String> topics = outboxTopics(id);
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < last; i++) {
      expected.add(MemoryClass.VRAM_8G.topic("flux-tiny"));
    }
    expected.add(JobStore.DEAD_LETTER_TOPIC);
    assertEquals(expected, topics, "one message per attempt, then the dead letter");
  }

  @Test
  void cancellation() {
    UUID queued = TestJobs.queued(store).id();
    assertEquals(CancelOutcome.CANCELLED, store.requestCancel(queued));
    assertFalse(store.markRunning(queued, "w", 1), "its message finds it cancelled");
    assertEquals(CancelOutcome.ALREADY_FINISHED, store.requestCancel(queued));

    UUID running = TestJobs.queued(store).id();
    assertTrue(store.markRunning(running, "w", 1));
    assertFalse(store.cancelRequested(running));
    assertEquals(CancelOutcome.REQUESTED, store.requestCancel(running));
    assertEquals(JobState.RUNNING, job(running).state());
    assertTrue(store.cancelRequested(running));
    assertTrue(store.cancel(running), "the worker stops at the next step");
    assertEquals(JobState.CANCELLED, job(running).state());
    assertFalse(store.succeed(running, "k", 1));

    UUID crashed = TestJobs.queued(store).id();
    assertTrue(store.markRunning(crashed, "w", 1));
    store.requestCancel(crashed);
    assertEquals(
        RequeueOutcome.CANCELLED, store.requeue(crashed, 1, "crash"), "no retry after a cancel");

    assertEquals(CancelOutcome.NOT_FOUND, store.requestCancel(UUID.randomUUID()));
  }

  @Test
  void failuresAndTimeoutsKeepTheirReason() {
    UUID queued = TestJobs.queued(store).id();
    assertTrue(store.timeOut(queued, "queued for too long"));
    assertEquals(JobState.TIMED_OUT, job(queued).state());
    assertEquals("TIMED_OUT", job(queued).errorCode());

    UUID running = TestJobs.queued(store).id();
    store.markRunning(running, "w", 1);
    assertTrue(store.fail(running, "MODEL_LOAD", "no such checkpoint"));
    assertFalse(store.fail(running, "OTHER", "second failure"));
    assertEquals("MODEL_LOAD", job(running).errorCode());
    assertEquals("no such checkpoint", job(running).errorMessage());
  }

  @Test
  void staleJobsTimeOut() throws Exception {
    UUID queued = TestJobs.queued(store).id();
    UUID running = TestJobs.queued(store).id();
    store.markRunning(running, "hung-worker", 1);
    Thread.sleep(1200);
    UUID fresh = TestJobs.queued(store).id();
    assertTrue(store.timeOutStale(Duration.ofSeconds(1), Duration.ofSeconds(1)) >= 2);
    assertEquals(JobState.TIMED_OUT, job(queued).state());
    assertTrue(job(queued).errorMessage().contains("no worker"), job(queued).errorMessage());
    assertEquals(JobState.TIMED_OUT, job(running).state());
    assertTrue(job(running).errorMessage().contains("ran longer"), job(running).errorMessage());
    assertEquals(JobState.QUEUED, job(fresh).state());
    assertFalse(store.succeed(running, "late.png", 1), "the hung worker's late result is refused");
  }

  @Test
  void idempotencyKeysAreUniquePerTenant() {
    String key = UUID.randomUUID().toString();
    NewJob first =
        new NewJob(UUID.randomUUID(), "t1", key, "fp", TestJobs.spec(4), MemoryClass.VRAM_8G, 1);
    JobStore.Inserted a = store.insert(first);
    assertTrue(a.created());
    JobStore.Inserted again =
        store.insert(
            new NewJob(
                UUID.randomUUID(), "t1", key, "fp", TestJobs.spec(4), MemoryClass.VRAM_8G, 1));
    assertFalse(again.created());
    assertEquals(a.job().id(), again.job().id());
    assertEquals(1, outboxTopics(a.job().id()).size(), "one message for one job");
    assertThrows(
        IdempotencyKeyReusedException.class,
        () ->
            store.insert(
                new NewJob(
                    UUID.randomUUID(),
                    "t1",
                    key,
                    "other",
                    TestJobs.spec(4),
                    MemoryClass.VRAM_8G,
                    1)));
    assertTrue(
        store
            .insert(
                new NewJob(
                    UUID.randomUUID(), "t2", key, "fp", TestJobs.spec(4), MemoryClass.VRAM_8G, 1))
            .created());
  }

  private List<String> outboxTopics(UUID id) {
    List<String> topics = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT topic FROM outbox WHERE message_key = ? ORDER BY id")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          topics.add(rs.getString(1));
        }
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    return topics;
  }
}
