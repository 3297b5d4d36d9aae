package dev.fleet.gateway.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Reads shared between the streams of one job: the logic, with a reader that counts its calls. */
class JobSnapshotsTest {
  private static final UUID ID = UUID.randomUUID();

  /** A reader that answers the job at {@code version}, holding the first read until released. */
  private static final class Reader {
    final AtomicInteger reads = new AtomicInteger();
    final AtomicLong version = new AtomicLong(5);
    final CountDownLatch firstStarted = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    Optional<JobStore.Found> read(UUID id) {
      long v = version.get();
      if (reads.getAndIncrement() == 0) {
        firstStarted.countDown();
        try {
          assertTrue(release.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      return Optional.of(new JobStore.Found(job(v), OptionalLong.empty()));
    }
  }

  private static Job job(long version) {
    Instant t = Instant.EPOCH;
    return new Job(
        ID,
        "t",
        null,
        new GenerationSpec("a fox", 1, 4, 128, 96, 3.5, "flux-tiny"),
        MemoryClass.VRAM_8G,
        1,
        JobState.CANCELLED,
        0,
        4,
        1,
        null,
        true,
        null,
        null,
        null,
        null,
        t,
        null,
        t,
        t,
        version);
  }

  private static CompletableFuture<Optional<JobStore.Found>> ask(JobSnapshots s, long version) {
    CompletableFuture<Optional<JobStore.Found>> answer = new CompletableFuture<>();
    Thread.ofPlatform().start(() -> answer.complete(s.atLeast(ID, version)));
    return answer;
  }

  /** Asks on a thread of its own and returns once that thread waits for the read under way. */
  private static CompletableFuture<Optional<JobStore.Found>> askAndWait(
      JobSnapshots s, long version) {
    CompletableFuture<Optional<JobStore.Found>> answer = new CompletableFuture<>();
    Thread t = Thread.ofPlatform().start(() -> answer.complete(s.atLeast(ID, version)));
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TERMINATED) {
      Thread.onSpinWait();
    }
    return answer;
  }

  @Test
  void streamsAskingWhileAReadIsUnderWayShareIt() throws Exception {
    Reader reader = new Reader();
    JobSnapshots snapshots = new JobSnapshots(reader::read);
    CompletableFuture<Optional<JobStore.Found>> first = ask(snapshots, 5);
    assertTrue(reader.firstStarted.await(10, TimeUnit.SECONDS));
    CompletableFuture<Optional<JobStore.Found>> second = askAndWait(snapshots, 5);
    reader.release.countDown();
    assertSame(first.get(10, TimeUnit.SECONDS), second.get(10, TimeUnit.SECONDS));
    assertEquals(1, reader.reads.get());
  }

  @Test
  void aReadOlderThanTheChangeIsNotTaken() throws Exception {
    Reader reader = new Reader();
    JobSnapshots snapshots = new JobSnapshots(reader::read);
    CompletableFuture<Optional<JobStore.Found>> first = ask(snapshots, 5);
    assertTrue(reader.firstStarted.await(10, TimeUnit.SECONDS));
    reader.version.set(6); // a change committed after the first read began
    CompletableFuture<Optional<JobStore.Found>> second = askAndWait(snapshots, 6);
    reader.release.countDown();
    assertEquals(5, first.get(10, TimeUnit.SECONDS).orElseThrow().job().version());
    assertEquals(6, second.get(10, TimeUnit.SECONDS).orElseThrow().job().version());
    assertEquals(2, reader.reads.get());
  }

  @Test
  void aFinishedReadIsNotKept() {
    Reader reader = new Reader();
    reader.release.countDown();
    JobSnapshots snapshots = new JobSnapshots(reader::read);
    snapshots.atLeast(ID, 5);
    reader.version.set(7);
    assertEquals(7, snapshots.atLeast(ID, 0).orElseThrow().job().version());
    assertEquals(2, reader.reads.get());
  }
}
