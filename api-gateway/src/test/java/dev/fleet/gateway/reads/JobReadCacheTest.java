package dev.fleet.gateway.reads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.gateway.events.JobChange;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore.Found;
import dev.fleet.model.store.JobStore.Ticketed;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The cache's logic against an in-memory "database" whose reads count and can run a hook while they
 * are in flight: a notification delivered during a miss is played exactly there, deterministically.
 */
class JobReadCacheTest {
  private static final String TENANT = "t";
  private static final MemoryClass CLASS = MemoryClass.VRAM_8G;

  /** Rows by id (state, ticket) and the reads made; a hook runs inside the next read. */
  private static final class Db implements JobReadCache.Reader {
    final Map<UUID, Job> jobs = new HashMap<>();
    final Map<UUID, Long> tickets = new HashMap<>();
    long nextTicket = 1;
    int rowReads;
    int headReads;
    Runnable duringNextRead;

    /** Runs at the start of the next head read, on the reading thread (may block it). */
    final AtomicReference<Runnable> headGate = new AtomicReference<>();

    Job insert() {
      return insert(nextTicket++);
    }

    /** A queued job holding {@code ticket}: one drawn earlier, committed only now. */
    Job insert(long ticket) {
      Job job = job(UUID.randomUUID(), JobState.QUEUED, 0, 0);
      jobs.put(job.id(), job);
      tickets.put(job.id(), ticket);
      return job;
    }

    /** The insert's notification, as the trigger sends it. */
    JobChange inserted(Job job) {
      return new JobChange(
          job.id(),
          JobState.QUEUED,
          null,
          0,
          4,
          1,
          false,
          0,
          CLASS.className(),
          tickets.get(job.id()));
    }

    /** Moves the job to {@code state} (a new version; a new ticket when it enters QUEUED). */
    JobChange move(UUID id, JobState state, int step) {
      Job old = jobs.get(id);
      Job now = job(id, state, step, old.version() + 1);
      jobs.put(id, now);
      if (state == JobState.QUEUED && old.state() != JobState.QUEUED) {
        tickets.put(id, nextTicket++);
      }
      return new JobChange(
          id,
          state,
          old.state(),
          step,
          4,
          1,
          false,
          now.version(),
          CLASS.className(),
          tickets.get(id));
    }

    OptionalLong currentHead() {
      return jobs.values().stream()
          .filter(j -> j.state() == JobState.QUEUED)
          .mapToLong(j -> tickets.get(j.id()))
          .min();
    }

    @Override
    public Optional<Ticketed> row(UUID id) {
      rowReads++;
      Job job = jobs.get(id);
      Optional<Ticketed> answer =
          job == null
              ? Optional.empty()
              : Optional.of(
                  new Ticketed(
                      job,
                      job.state() == JobState.QUEUED
                          ? OptionalLong.of(tickets.get(id))
                          : OptionalLong.empty(),
                      job.state() == JobState.QUEUED ? currentHead() : OptionalLong.empty()));
      runHook();
      return answer;
    }

    @Override
    public OptionalLong head(MemoryClass memoryClass) {
      Runnable gate = headGate.getAndSet(null);
      if (gate != null) {
        gate.run();
      }
      headReads++;
      OptionalLong answer = currentHead();
      runHook();
      return answer;
    }

    private void runHook() {
      Runnable hook = duringNextRead;
      duringNextRead = null;
      if (hook != null) {
        hook.run();
      }
    }
  }

  private static Job job(UUID id, JobState state, int step, long version) {
    Instant t = Instant.parse("2026-12-05T00:00:00Z");
    return new Job(
        id,
        TENANT,
        null,
        new GenerationSpec("a fox", 1, 4, 128, 96, 3.5, "flux-tiny"),
        CLASS,
        1 << 29,
        state,
        step,
        4,
        1,
        null,
        false,
        null,
        null,
        null,
        null,
        t,
        null,
        null,
        t,
        version);
  }

  private final Db db = new Db();
  private final JobReadCache cache = new JobReadCache(100, db);

  private Found read(Job job) {
    return cache.find(job.id(), TENANT).orElseThrow();
  }

  @Test
  void aJobReadTwiceIsQueriedOnce() {
    Job job = db.insert();
    assertEquals(OptionalLong.of(1), read(job).queuePosition());
    assertEquals(read(job), read(job));
    assertEquals(1, db.rowReads);
    assertEquals(0, db.headReads, "the head came with the row");
  }

  @Test
  void aNotificationDropsTheRowAndTheNextReadSeesTheChange() {
    Job job = db.insert();
    read(job);
    JobChange change = db.move(job.id(), JobState.RUNNING, 0);
    assertEquals(JobState.QUEUED, read(job).job().state(), "no notification yet: as last read");
    cache.onChange(change);
    Found now = read(job);
    assertEquals(JobState.RUNNING, now.job().state());
    assertTrue(now.queuePosition().isEmpty());
    assertEquals(2, db.rowReads);
  }

  @Test
  void aChangeNotifiedWhileAMissIsInFlightKeepsThatMissOutOfTheCache() {
    Job job = db.insert();
    // The read answers QUEUED; before it returns, the job starts and its notification arrives.
    db.duringNextRead = () -> cache.onChange(db.move(job.id(), JobState.RUNNING, 0));
    assertEquals(JobState.QUEUED, read(job).job().state(), "the answer of the read in flight");
    assertEquals(0, cache.size(), "not stored: it was out of date when it would have been");
    assertEquals(JobState.RUNNING, read(job).job().state());
    assertEquals(JobState.RUNNING, read(job).job().state());
    assertEquals(2, db.rowReads, "the second read was stored");
  }

  @Test
  void aHeadReadOvertakenByTheHeadLeavingIsNotKept() {
    Job first = db.insert();
    Job second = db.insert();
    Job third = db.insert();
    read(second);
    read(third); // both rows stored, and the head (ticket 1)
    cache.onChange(db.move(first.id(), JobState.RUNNING, 0)); // the head moves: heads dropped
    // The head is read as 2; before that read returns, the second job leaves the queue too.
    db.duringNextRead = () -> cache.onChange(db.move(second.id(), JobState.CANCELLED, 0));
    assertEquals(OptionalLong.of(2), read(third).queuePosition(), "as the read in flight found");
    assertEquals(OptionalLong.of(1), read(third).queuePosition(), "the head is the third job now");
    assertEquals(2, db.headReads, "the overtaken head was not kept");
    assertEquals(2, db.rowReads, "the third job's row stayed cached throughout");
  }

  @Test
  void positionsFollowTheHeadWhileTheRowsStayCached() {
    Job a = db.insert();
    Job b = db.insert();
    Job c = db.insert();
    assertEquals(OptionalLong.of(3), read(c).queuePosition());
    assertEquals(OptionalLong.of(2), read(b).queuePosition());
    cache.onChange(db.move(a.id(), JobState.RUNNING, 0));
    assertEquals(OptionalLong.of(1), read(b).queuePosition());
    assertEquals(OptionalLong.of(2), read(c).queuePosition());
    assertEquals(
        2, db.rowReads, "b and c were not read again: a's change dropped only a and heads");
    assertEquals(1, db.headReads);
  }

  @Test
  void progressOfARunningJobLeavesTheHeadsAlone() {
    Job running = db.insert();
    Job queued = db.insert();
    cache.onChange(db.move(running.id(), JobState.RUNNING, 0));
    read(queued);
    int heads = db.headReads;
    cache.onChange(db.move(running.id(), JobState.RUNNING, 1));
    assertEquals(OptionalLong.of(1), read(queued).queuePosition());
    assertEquals(heads, db.headReads);
    assertEquals(1, read(running).job().step());
  }

  @Test
  void submissionsJoiningBehindTheHeadLeaveItCached() {
    Job a = db.insert();
    Job b = db.insert();
    read(a);
    cache.onChange(db.move(a.id(), JobState.RUNNING, 0)); // the head moves: b's head read afresh
    assertEquals(OptionalLong.of(1), read(b).queuePosition());
    int heads = db.headReads;
    for (int i = 0; i < 5; i++) {
      cache.onChange(db.inserted(db.insert()));
      assertEquals(OptionalLong.of(1), read(b).queuePosition());
    }
    assertEquals(heads, db.headReads, "a job joining the tail moves no head");
  }

  @Test
  void aTicketCommittedAfterALaterOneBecomesTheHead() {
    long early = db.nextTicket++; // drawn by a transaction that commits last
    Job later = db.insert();
    assertEquals(OptionalLong.of(1), read(later).queuePosition(), "alone in the queue");
    Job earlier = db.insert(early);
    cache.onChange(db.inserted(earlier));
    assertEquals(OptionalLong.of(2), read(later).queuePosition(), "the earlier ticket is ahead");
    assertEquals(OptionalLong.of(1), read(earlier).queuePosition());
  }

  @Test
  void aJobLeavingFromTheMiddleLeavesTheHeadAndTheHeadLeavingDropsIt() {
    Job a = db.insert();
    Job b = db.insert();
    Job c = db.insert();
    assertEquals(OptionalLong.of(3), read(c).queuePosition());
    int heads = db.headReads;
    cache.onChange(db.move(b.id(), JobState.CANCELLED, 0));
    assertEquals(
        OptionalLong.of(3), read(c).queuePosition(), "as the store counts it: ticket minus head");
    assertEquals(heads, db.headReads, "the head did not move");
    cache.onChange(db.move(a.id(), JobState.RUNNING, 0));
    assertEquals(OptionalLong.of(1), read(c).queuePosition());
    assertEquals(heads + 1, db.headReads, "the head left: read again");
  }

  @Test
  void aNotificationWithoutClassOrTicketDropsEveryHead() {
    Job a = db.insert();
    Job b = db.insert();
    read(b);
    cache.onChange(db.inserted(db.insert())); // behind the head: nothing dropped
    int heads = db.headReads;
    JobChange moved = db.move(a.id(), JobState.RUNNING, 0);
    cache.onChange(
        new JobChange(
            moved.id(),
            moved.state(),
            moved.previousState(),
            moved.step(),
            moved.steps(),
            moved.attempts(),
            moved.cancelRequested(),
            moved.version(),
            null,
            null));
    assertEquals(OptionalLong.of(1), read(b).queuePosition());
    assertEquals(heads + 1, db.headReads);
  }

  @Test
  void readersMissingOneHeadTogetherSendOneQueryUnlessAChangeCameBetween() throws Exception {
    Job a = db.insert();
    Job b = db.insert();
    Job c = db.insert();
    Job running = db.insert();
    read(b);
    read(c);
    cache.onChange(db.move(running.id(), JobState.RUNNING, 0));
    cache.onChange(db.move(a.id(), JobState.RUNNING, 0)); // the head left: dropped
    int before = db.headReads;
    CountDownLatch inQuery = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    db.headGate.set(
        () -> {
          inQuery.countDown();
          awaitQuietly(release);
        });
    CompletableFuture<OptionalLong> first = CompletableFuture.supplyAsync(() -> positionOf(b));
    assertTrue(inQuery.await(10, TimeUnit.SECONDS));
    Thread joiner = new Thread(() -> assertEquals(OptionalLong.of(2), positionOf(c)));
    joiner.start();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> joiner.getState() == Thread.State.WAITING);
    assertEquals(before, db.headReads, "the second reader waits for the first one's query");
    // A change while the first query is out: a reader missing after it sends its own query.
    cache.onChange(db.move(running.id(), JobState.RUNNING, 2));
    assertEquals(OptionalLong.of(2), positionOf(c));
    assertEquals(before + 1, db.headReads, "its own query, not the one in flight");
    release.countDown();
    assertEquals(OptionalLong.of(1), first.get(10, TimeUnit.SECONDS));
    joiner.join(10_000);
    assertEquals(before + 2, db.headReads, "the joiner sent none");
  }

  private OptionalLong positionOf(Job job) {
    return cache.find(job.id(), TENANT).orElseThrow().queuePosition();
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void anotherTenantsJobIsNotFoundCachedOrNot() {
    Job job = db.insert();
    assertTrue(cache.find(job.id(), "other").isEmpty(), "on a miss");
    read(job);
    assertTrue(cache.find(job.id(), "other").isEmpty(), "on a hit");
  }

  @Test
  void aMissingJobIsNotRememberedAsMissing() {
    UUID id = UUID.randomUUID();
    assertTrue(cache.find(id, TENANT).isEmpty());
    Job job = job(id, JobState.QUEUED, 0, 0);
    db.jobs.put(id, job);
    db.tickets.put(id, db.nextTicket++);
    assertEquals(job, read(job).job(), "found before its notification arrives");
  }

  @Test
  void clearAndForgetDropRowsAndHeads() {
    Job job = db.insert();
    read(job);
    cache.clear();
    read(job);
    assertEquals(2, db.rowReads);
    cache.forget(job.id());
    read(job);
    assertEquals(3, db.rowReads);
  }

  @Test
  void staysWithinItsSize() {
    JobReadCache small = new JobReadCache(3, db);
    for (int i = 0; i < 10; i++) {
      small.find(db.insert().id(), TENANT).orElseThrow();
      assertTrue(small.size() <= 3, "holds " + small.size());
    }
    assertThrows(IllegalArgumentException.class, () -> new JobReadCache(0, db));
  }
}
