package dev.fleet.gateway.events;

import dev.fleet.model.store.JobStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Reads of a job for event streams, shared between the streams of the same job: when one change
 * wakes a hundred streams of one job, one of them reads it and the others take that read, instead
 * of a hundred identical queries at once.
 *
 * <p>A stream asks for the job at least at the version of the change it was told about; a read that
 * was already under way when it asked is taken only if it returned that version or a newer one
 * (else it may have started before the change committed, and the stream reads again itself).
 */
@ApplicationScoped
public class JobSnapshots {
  private final Function<UUID, Optional<JobStore.Found>> reader;
  private final Map<UUID, CompletableFuture<Optional<JobStore.Found>>> inFlight =
      new ConcurrentHashMap<>();

  @Inject
  public JobSnapshots(JobStore store) {
    this(store::findWithPosition);
  }

  JobSnapshots(Function<UUID, Optional<JobStore.Found>> reader) {
    this.reader = reader;
  }

  /** The job as stored, at {@code version} or newer (empty: no such job). */
  public Optional<JobStore.Found> atLeast(UUID id, long version) {
    CompletableFuture<Optional<JobStore.Found>> mine = new CompletableFuture<>();
    CompletableFuture<Optional<JobStore.Found>> running = inFlight.putIfAbsent(id, mine);
    if (running != null) {
      Optional<JobStore.Found> shared = running.exceptionally(e -> null).join();
      if (shared != null && (shared.isEmpty() || shared.get().job().version() >= version)) {
        return shared;
      }
      return reader.apply(id);
    }
    try {
      Optional<JobStore.Found> found = reader.apply(id);
      mine.complete(found);
      return found;
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inFlight.remove(id, mine);
    }
  }
}
