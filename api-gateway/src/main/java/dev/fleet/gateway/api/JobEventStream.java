package dev.fleet.gateway.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.events.JobChange;
import dev.fleet.gateway.events.JobEventHub;
import dev.fleet.gateway.events.JobSnapshots;
import dev.fleet.gateway.storage.ResultStorage;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.store.JobStore;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One client's Server-Sent Events stream of one job, on its own virtual thread: first the job as it
 * is ({@code event: status}, the {@link JobView}), then every change the {@link JobEventHub}
 * pushes: {@code status} events (the whole job, re-read) when the state moves, {@code progress}
 * events ({@code {id, status, step, steps}}) for steps. The stream ends after a terminal state.
 * Notifications older than what was last sent (by the job's version) are dropped.
 */
final class JobEventStream implements Runnable {
  private static final Logger LOG = Logger.getLogger(JobEventStream.class);
  private static final Duration KEEPALIVE = Duration.ofSeconds(15);
  private static final Duration SEND_TIMEOUT = Duration.ofSeconds(10);

  private final UUID id;
  private final SseEventSink sink;
  private final Sse sse;
  private static final long FRESH = -1;

  private final JobStore store;
  private final JobSnapshots snapshots;
  private final ResultStorage storage;
  private final JobEventHub hub;
  private final ObjectMapper json;
  private final BlockingQueue<JobChange> changes = new LinkedBlockingQueue<>();
  private long version = -1;

  JobEventStream(
      UUID id,
      SseEventSink sink,
      Sse sse,
      JobStore store,
      JobSnapshots snapshots,
      ResultStorage storage,
      JobEventHub hub,
      ObjectMapper json) {
    this.id = id;
    this.sink = sink;
    this.sse = sse;
    this.store = store;
    this.snapshots = snapshots;
    this.storage = storage;
    this.hub = hub;
    this.json = json;
  }

  @Override
  public void run() {
    // Subscribe before the first read, so that no change falls between the two.
    Runnable unsubscribe = hub.subscribe(id, changes::add);
    try (sink) {
      if (sendCurrent(FRESH)) {
        return;
      }
      while (!sink.isClosed()) {
        JobChange change = changes.poll(KEEPALIVE.toMillis(), TimeUnit.MILLISECONDS);
        if (change == null) {
          send(sse.newEventBuilder().comment("keepalive").build());
        } else if (change == JobEventHub.RESYNC || change.state().terminal()) {
          // The whole job, re-read: after a reconnect, and for the end (result link, error).
          if (sendCurrent(change == JobEventHub.RESYNC ? FRESH : change.version())) {
            return;
          }
        } else if (change.version() > version) {
          version = change.version();
          send(event(change.stateChanged() ? "status" : "progress", compact(change)));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (StreamClosed e) {
      // the client went away
    } catch (RuntimeException e) {
      LOG.warnf(e, "event stream of job %s failed", id);
    } finally {
      unsubscribe.run();
    }
  }

  /** The data of a status or progress event between the first and the last. */
  record Change(
      UUID id, JobState status, int step, int steps, int attempts, boolean cancelRequested) {}

  private Change compact(JobChange c) {
    return new Change(id, c.state(), c.step(), c.steps(), c.attempts(), c.cancelRequested());
  }

  /**
   * Sends the job as stored if it is newer than what was sent; true when the stream is over.
   *
   * @param atLeast the version of the change that asks (a read shared with the job's other streams
   *     will do if it is that recent), or {@link #FRESH}: a read of this stream's own, started now
   *     (the first one, which must follow the subscription, and after a reconnect)
   */
  private boolean sendCurrent(long atLeast) {
    Optional<JobStore.Found> found =
        atLeast == FRESH ? store.findWithPosition(id) : snapshots.atLeast(id, atLeast);
    if (found.isEmpty()) {
      return true;
    }
    Job job = found.get().job();
    if (job.version() > version) {
      version = job.version();
      OptionalLong queued = found.get().queuePosition();
      Long position = queued.isPresent() ? queued.getAsLong() : null;
      send(event("status", JobView.of(job, position, storage)));
    }
    return job.state().terminal();
  }

  private OutboundSseEvent event(String name, Object data) {
    try {
      return sse.newEventBuilder()
          .name(name)
          .id(Long.toString(version))
          // Written here, sent as text: the data line is the JSON itself.
          .data(json.writeValueAsString(data))
          .build();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write event of job " + id, e);
    }
  }

  private void send(OutboundSseEvent event) {
    if (sink.isClosed()) {
      throw new StreamClosed();
    }
    try {
      sink.send(event).toCompletableFuture().get(SEND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StreamClosed();
    } catch (Exception e) {
      throw new StreamClosed();
    }
  }

  private static final class StreamClosed extends RuntimeException {
    StreamClosed() {
      super(null, null, false, false);
    }
  }
}
