package dev.fleet.gateway.reads;

import dev.fleet.gateway.events.JobEventHub;
import dev.fleet.gateway.jobs.JobsConfig;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStore.Found;
import dev.fleet.model.store.JobStore.Ticketed;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * Status reads of single jobs for the API: from the {@link JobReadCache} while the gateway listens
 * to {@code job_events} (and {@code fleet.jobs.read-cache-enabled} is on), otherwise straight from
 * the store. The cache hears every change through the {@link JobEventHub}, before any event stream
 * does, and is cleared whenever the channel is listened to anew.
 */
@ApplicationScoped
public class JobReads {
  private final JobStore store;
  private final JobEventHub hub;
  private final JobReadCache cache;

  public JobReads(JobStore store, JobEventHub hub, JobsConfig config) {
    this.store = store;
    this.hub = hub;
    if (config.readCacheEnabled()) {
      this.cache =
          new JobReadCache(
              config.readCacheSize(),
              new JobReadCache.Reader() {
                @Override
                public Optional<Ticketed> row(UUID id) {
                  return store.findTicketed(id);
                }

                @Override
                public OptionalLong head(MemoryClass memoryClass) {
                  return store.queueHead(memoryClass);
                }
              });
      hub.observe(cache::onChange, cache::clear);
    } else {
      this.cache = null;
    }
  }

  /** The job of {@code tenant} with its queue position; another tenant's job is not found. */
  public Optional<Found> find(UUID id, String tenant) {
    if (cache != null && hub.listening()) {
      return cache.find(id, tenant);
    }
    return store.findWithPosition(id, tenant);
  }

  /** This gateway changed job {@code id}: its next read must see the change. */
  public void changed(UUID id) {
    if (cache != null) {
      cache.forget(id);
    }
  }
}
