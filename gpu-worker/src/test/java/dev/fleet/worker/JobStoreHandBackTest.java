package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.RequeueOutcome;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The job store's hand-back (a draining worker returns its running job) on the real PostgreSQL:
 * back to QUEUED with the same attempt and its message in the outbox again, for a RUNNING job only.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class JobStoreHandBackTest {
  // A class no worker of this test application consumes: only the store acts on these jobs.
  static final MemoryClass CLASS = MemoryClass.VRAM_16G;

  @Inject DataSource dataSource;

  JobStore store;

  @BeforeEach
  void setUp() {
    store = new JobStore(dataSource);
  }

  private UUID running() {
    UUID id = UUID.randomUUID();
    store.insert(
        new NewJob(
            id,
            "t1",
            null,
            null,
            new GenerationSpec("handed back", 7, 4, 128, 96, 3.5, "flux-tiny"),
            CLASS,
            1L << 30));
    assertEquals(true, store.markRunning(id, "w1", 1));
    return id;
  }

  @Test
  void aRunningJobGoesBackToTheQueueWithTheSameAttemptAndItsMessageInTheOutbox() throws Exception {
    UUID id = running();
    store.progress(id, 2, 4);

    assertEquals(RequeueOutcome.REQUEUED, store.handBack(id, 1));

    Job back = store.find(id).orElseThrow();
    assertEquals(JobState.QUEUED, back.state());
    assertEquals(1, back.attempts(), "a drain spends no attempt");
    assertNull(back.worker());
    assertEquals(0, back.step());
    assertNull(back.finishedAt());
    List<String[]> outbox = outbox(id);
    assertEquals(2, outbox.size(), "the first message, then the handed-back one");
    assertEquals(CLASS.topic("flux-tiny"), outbox.get(1)[0]);
    assertEquals(1, new ObjectMapper().readTree(outbox.get(1)[1]).get("attempt").asInt());

    assertEquals(RequeueOutcome.REFUSED, store.handBack(id, 1), "only while RUNNING");
    assertEquals(2, outbox(id).size());
    // The same attempt is taken again, by any worker.
    assertEquals(true, store.markRunning(id, "w2", 1));
  }

  @Test
  void aFinishedJobOrAnotherAttemptIsNeverHandedBack() {
    UUID done = running();
    store.succeed(done, "t1/" + done + ".png", 10);
    assertEquals(RequeueOutcome.REFUSED, store.handBack(done, 1));
    assertEquals(JobState.SUCCEEDED, store.find(done).orElseThrow().state());

    UUID failed = running();
    store.fail(failed, "ENGINE_ERROR", "broken");
    assertEquals(RequeueOutcome.REFUSED, store.handBack(failed, 1));
    assertEquals(JobState.FAILED, store.find(failed).orElseThrow().state());

    UUID stale = running();
    assertEquals(RequeueOutcome.REFUSED, store.handBack(stale, 2), "not this attempt");
    assertEquals(JobState.RUNNING, store.find(stale).orElseThrow().state());
    assertEquals(1, outbox(stale).size());
  }

  @Test
  void aJobWhoseCancellationWasRequestedEndsCancelledInstead() {
    UUID id = running();
    store.requestCancel(id);
    assertEquals(RequeueOutcome.CANCELLED, store.handBack(id, 1));
    assertEquals(JobState.CANCELLED, store.find(id).orElseThrow().state());
    assertEquals(1, outbox(id).size(), "nothing to deliver");
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
