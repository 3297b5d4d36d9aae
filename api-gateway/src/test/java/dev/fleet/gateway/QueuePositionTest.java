package dev.fleet.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.job.Job;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.RequeueOutcome;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Queue positions from tickets (V4__queue_tickets.sql): a job's ticket in its class minus the
 * smallest ticket still queued, plus one. Each test first lets workers take the jobs earlier tests
 * left queued, so that its own jobs head the queue.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class QueuePositionTest {
  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;

  Job a;
  Job b;
  Job c;

  @BeforeEach
  void threeQueuedJobsAtTheHead() {
    a = TestJobs.queued(store);
    b = TestJobs.queued(store);
    c = TestJobs.queued(store);
    TestJobs.takeJobsAhead(store, dataSource, a);
  }

  private long position(Job job) {
    return store.queuePosition(job.id()).orElseThrow();
  }

  @Test
  void positionsCountFromTheHeadAndMoveAsItIsTaken() {
    assertEquals(1, position(a));
    assertEquals(2, position(b));
    assertEquals(3, position(c));
    assertEquals(
        3,
        store.findWithPosition(c.id(), "store-test").orElseThrow().queuePosition().getAsLong(),
        "the tenant's read gives the same position");

    assertTrue(store.markRunning(a.id(), "w", 1));
    assertTrue(store.queuePosition(a.id()).isEmpty(), "a running job has no position");
    assertEquals(1, position(b));
    assertEquals(2, position(c));
  }

  @Test
  void aJobCancelledInTheMiddleCountsUntilTheHeadPassesIt() {
    assertEquals(JobStore.CancelOutcome.CANCELLED, store.requestCancel(b.id()));
    assertTrue(store.queuePosition(b.id()).isEmpty());
    assertEquals(3, position(c), "the estimate reads high, never low");

    assertTrue(store.markRunning(a.id(), "w", 1));
    assertEquals(1, position(c), "exact again once the head has passed the gap");
  }

  @Test
  void aRequeuedJobGoesToTheBackOfItsQueue() {
    assertTrue(store.markRunning(a.id(), "w", 1));
    assertEquals(RequeueOutcome.REQUEUED, store.requeue(a.id(), 1, "worker lost"));
    assertEquals(1, position(b));
    assertEquals(2, position(c));
    assertEquals(3, position(a), "a new ticket, behind the jobs that waited");
  }

  @Test
  void theInsertReportsThePositionAReadGives() {
    JobStore.Inserted d = store.insert(TestJobs.newJob("store-test"));
    assertTrue(d.created());
    assertEquals(4, d.queuePosition().orElseThrow());
    assertEquals(4, position(d.job()));
  }

  @Test
  void anotherTenantDoesNotFindTheJob() {
    assertTrue(store.findWithPosition(a.id(), "someone-else").isEmpty());
    assertTrue(store.findWithPosition(UUID.randomUUID()).isEmpty());
  }
}
