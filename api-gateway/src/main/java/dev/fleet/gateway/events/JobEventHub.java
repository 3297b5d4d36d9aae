package dev.fleet.gateway.events;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.notify.PgNotifications;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Job changes for the event streams: the {@code job_events} notifications of the gateway's one
 * PostgreSQL listener ({@link PgNotifications}), handed to the subscribers of that job, however
 * many streams are open. Subscribers must not block (they queue the change for their own thread).
 *
 * <p>Whenever the channel starts being listened on (at start, and after the listener's connection
 * broke and was opened again) notifications may have been missed, so every subscriber then gets
 * {@link #RESYNC} and re-reads its job.
 *
 * <p>Observers ({@link #observe}) get every change, and every resync, before the subscribers of the
 * job do: what an observer keeps (the gateway's cache of job reads) is up to date with an event by
 * the time a stream's client sees it, so a read that follows an event never answers an older state.
 */
@ApplicationScoped
public class JobEventHub {
  /** Delivered to every subscriber after a reconnect: changes may have been missed. */
  public static final JobChange RESYNC =
      new JobChange(null, null, null, 0, 0, 0, false, -1, null, null);

  static final String CHANNEL = "job_events";
  private static final Logger LOG = Logger.getLogger(JobEventHub.class);

  private record Observer(Consumer<JobChange> onChange, Runnable onResync) {}

  private final Map<UUID, Set<Consumer<JobChange>>> subscribers = new ConcurrentHashMap<>();
  private final List<Observer> observers = new CopyOnWriteArrayList<>();
  private final ObjectMapper json;
  private final PgNotifications notifications;

  public JobEventHub(ObjectMapper json, PgNotifications notifications) {
    this.json = json;
    this.notifications = notifications;
  }

  void start(@Observes StartupEvent event) {
    notifications.subscribe(
        CHANNEL,
        this::dispatch,
        () -> {
          observers.forEach(o -> o.onResync().run());
          subscribers.values().forEach(set -> set.forEach(s -> s.accept(RESYNC)));
        });
  }

  /**
   * Hands every change of every job to {@code onChange}, and calls {@code onResync} whenever
   * changes may have been missed, each before the job's subscribers hear of it. Both run on the
   * listener's thread and must not block.
   */
  public void observe(Consumer<JobChange> onChange, Runnable onResync) {
    observers.add(new Observer(onChange, onResync));
  }

  /** Whether the job changes are being listened to (for tests and readiness of streams). */
  public boolean listening() {
    return notifications.listening(CHANNEL);
  }

  /** Delivers the changes of job {@code id} to {@code subscriber} until it unsubscribes. */
  public Runnable subscribe(UUID id, Consumer<JobChange> subscriber) {
    subscribers.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet()).add(subscriber);
    return () ->
        subscribers.computeIfPresent(
            id,
            (k, set) -> {
              set.remove(subscriber);
              return set.isEmpty() ? null : set;
            });
  }

  private void dispatch(String payload) {
    JobChange change;
    try {
      change = json.readValue(payload, JobChange.class);
    } catch (Exception e) {
      LOG.warnf("job events: unreadable notification %s", payload);
      return;
    }
    for (Observer o : observers) {
      try {
        o.onChange().accept(change);
      } catch (RuntimeException e) {
        LOG.warnf(e, "job events: an observer failed on %s", payload);
      }
    }
    Set<Consumer<JobChange>> set = subscribers.get(change.id());
    if (set != null) {
      set.forEach(s -> s.accept(change));
    }
  }
}
