package dev.fleet.gateway.reads;

import dev.fleet.gateway.events.JobChange;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.Found;
import dev.fleet.model.store.JobStore.Ticketed;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Job reads from memory: the rows of jobs (with the queue ticket of a queued one) by id, and the
 * head of each memory class's queue, as {@link JobStore#findTicketed} and {@link
 * JobStore#queueHead} last read them, so that a status read of a job that has not changed costs no
 * query. A job's position is computed from its ticket and its class's head exactly as the store
 * computes it ({@link JobStore#queuePosition(long, OptionalLong)}).
 *
 * <p><b>Invalidation.</b> Every change of a job row is announced by the {@code jobs_notify} trigger
 * (insert and every update; rows are never deleted), delivered in commit order to {@link
 * #onChange}: it drops the job's row and, when the job entered or left QUEUED, its class's head if
 * the change can have moved it. The announcement names the class and the ticket, and tickets are
 * drawn in order within a class, so: a job that leaves the queue moves the head only if its ticket
 * is the head (or below it); a job that enters moves it only if its ticket is below the head, which
 * happens when an earlier ticket's transaction commits after a later one's. Any other entry or exit
 * (a submission joining the tail, a cancellation from the middle) leaves every head in place, so
 * that a stream of submissions does not send every reader of a queued job back to the database for
 * its head. An announcement without class or ticket (from a database before {@code V7}) drops every
 * head, as before. Notifications missed while nobody listened are unknowable, so the owner consults
 * the cache only while {@code job_events} is being listened to and calls {@link #clear} each time
 * it starts being listened to again. An entry is therefore the job as the database held it at some
 * instant no earlier than the last notification handled: it lags a commit by at most that
 * notification's delivery, as the event streams do. The gateway's own changes ({@link #forget}) are
 * dropped before the call that made them answers, so a client reads its own writes. A row and its
 * class's head come from one statement on a miss; a cached row whose head was dropped gets the head
 * read afresh, which may already include a change still on its way as a notification: a job taken
 * from the head a moment ago then reads position 1 (never 0, never higher than a query would say)
 * until its own notification drops its row.
 *
 * <p><b>Insertion without races.</b> A read that misses goes to the database; meanwhile a change
 * may commit and its notification may be handled before the read's answer is stored, which would
 * then outlive its own invalidation. So every invalidation first increments {@link #generation},
 * then removes; a read notes the generation before it queries, and stores its answer only if the
 * generation is unchanged, checked inside the map's atomic {@code compute} for that key. If the
 * increment came before that check, nothing is stored; if after, the invalidation's removal comes
 * after the store (it waits for the key's lock) and removes it. A notification handled before the
 * read noted the generation was sent at a commit the query already sees. One counter for all jobs
 * is coarse (any change during a miss keeps that miss's answer out, and the next read fills it) but
 * needs no per-key bookkeeping.
 *
 * <p><b>Bounds.</b> At most about {@code maxEntries} rows (concurrent fills may pass it by a few);
 * when full, an arbitrary row makes room. Answers for missing jobs are not kept: a job that appears
 * is then found at once, however its notification is delayed.
 */
public final class JobReadCache {
  /** Where a miss goes: {@link JobStore#findTicketed} and {@link JobStore#queueHead}. */
  public interface Reader {
    Optional<Ticketed> row(UUID id);

    OptionalLong head(MemoryClass memoryClass);
  }

  private final Map<UUID, Ticketed> rows = new ConcurrentHashMap<>();
  private final Map<MemoryClass, Long> heads = new ConcurrentHashMap<>();
  private final Map<MemoryClass, HeadLoad> headLoads = new ConcurrentHashMap<>();
  private final AtomicLong generation = new AtomicLong();
  private final int maxEntries;
  private final Reader reader;

  public JobReadCache(int maxEntries, Reader reader) {
    if (maxEntries < 1) {
      throw new IllegalArgumentException(
          "job read cache: size must be at least 1, got " + maxEntries);
    }
    this.maxEntries = maxEntries;
    this.reader = Objects.requireNonNull(reader, "reader");
  }

  /**
   * The job {@code id} of {@code tenant} and its queue position, as {@link
   * JobStore#findWithPosition(UUID, String)} answers: another tenant's job is not found.
   */
  public Optional<Found> find(UUID id, String tenant) {
    Objects.requireNonNull(tenant, "tenant");
    Ticketed row = rows.get(id);
    if (row == null) {
      long seen = generation.get();
      Optional<Ticketed> read = reader.row(id);
      if (read.isEmpty()) {
        return Optional.empty();
      }
      row = read.get();
      storeRow(id, row, seen);
      if (row.queueTicket().isPresent() && row.queueHead().isPresent()) {
        storeHead(row.job().memoryClass(), row.queueHead().getAsLong(), seen);
      }
      // The row and the head of one statement: answered together, as the store would.
      return row.job().tenant().equals(tenant)
          ? Optional.of(new Found(row.job(), row.queuePosition()))
          : Optional.empty();
    }
    if (!row.job().tenant().equals(tenant)) {
      return Optional.empty();
    }
    OptionalLong position =
        row.queueTicket().isPresent()
            ? OptionalLong.of(
                JobStore.queuePosition(
                    row.queueTicket().getAsLong(), head(row.job().memoryClass())))
            : OptionalLong.empty();
    return Optional.of(new Found(row.job(), position));
  }

  private OptionalLong head(MemoryClass memoryClass) {
    Long cached = heads.get(memoryClass);
    if (cached != null) {
      return OptionalLong.of(cached);
    }
    long seen = generation.get();
    HeadLoad mine = new HeadLoad(seen, new CompletableFuture<>());
    HeadLoad load =
        headLoads.compute(
            memoryClass,
            (k, current) -> current != null && current.seen() == seen ? current : mine);
    if (load != mine) {
      return load.await();
    }
    try {
      OptionalLong read = reader.head(memoryClass);
      if (read.isPresent()) {
        storeHead(memoryClass, read.getAsLong(), seen);
      }
      mine.answer().complete(read);
      return read;
    } catch (RuntimeException | Error e) {
      mine.answer().completeExceptionally(e);
      throw e;
    } finally {
      headLoads.remove(memoryClass, mine);
    }
  }

  /**
   * A class's head being read, and the generation its reader noted first. A reader that misses the
   * same head while the generation is still that one waits for this answer instead of sending its
   * own query: no invalidation came between the two misses, so the answer is as fresh as a query of
   * its own would be. When a head is dropped under many readers, one query goes out, not one each.
   */
  private record HeadLoad(long seen, CompletableFuture<OptionalLong> answer) {
    OptionalLong await() {
      try {
        return answer.join();
      } catch (CompletionException e) {
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw e;
      }
    }
  }

  /** A change announced on {@code job_events}: drops what it may have made out of date. */
  public void onChange(JobChange change) {
    generation.incrementAndGet();
    rows.remove(change.id());
    if (!change.queueMembershipChanged()) {
      return;
    }
    Optional<MemoryClass> memoryClass =
        change.memoryClass() == null ? Optional.empty() : MemoryClass.byName(change.memoryClass());
    if (memoryClass.isEmpty() || change.ticket() == null) {
      heads.clear();
      return;
    }
    long ticket = change.ticket();
    boolean entered = change.state() == JobState.QUEUED;
    heads.computeIfPresent(
        memoryClass.get(), (k, head) -> (entered ? ticket < head : ticket <= head) ? null : head);
  }

  /**
   * The gateway changed job {@code id} itself (a cancellation): dropped now rather than when its
   * notification comes, with every head (the change may have taken the job out of its queue).
   */
  public void forget(UUID id) {
    generation.incrementAndGet();
    rows.remove(id);
    heads.clear();
  }

  /** Drops everything: notifications may have been missed. */
  public void clear() {
    generation.incrementAndGet();
    rows.clear();
    heads.clear();
  }

  /** How many job rows it holds now. */
  public int size() {
    return rows.size();
  }

  private void storeRow(UUID id, Ticketed row, long seen) {
    if (rows.size() >= maxEntries) {
      Iterator<UUID> any = rows.keySet().iterator();
      if (any.hasNext()) {
        rows.remove(any.next());
      }
    }
    rows.compute(id, (k, old) -> generation.get() == seen ? row : old);
  }

  private void storeHead(MemoryClass memoryClass, long head, long seen) {
    Long value = head;
    heads.compute(memoryClass, (k, old) -> generation.get() == seen ? value : old);
  }
}
