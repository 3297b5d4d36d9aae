package dev.fleet.gateway.events;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The gateway's one PostgreSQL listener: a dedicated connection that LISTENs on {@code job_events}
 * and hands each change to the subscribers of that job, however many streams are open. Subscribers
 * must not block (they queue the change for their own thread).
 *
 * <p>If the connection breaks it is opened again; notifications sent meanwhile are lost, so every
 * subscriber then gets {@link #RESYNC} and re-reads its job.
 */
@ApplicationScoped
public class JobEventHub {
  /** Delivered to every subscriber after a reconnect: changes may have been missed. */
  public static final JobChange RESYNC = new JobChange(null, null, null, 0, 0, 0, false, -1);

  static final String CHANNEL = "job_events";
  private static final Logger LOG = Logger.getLogger(JobEventHub.class);
  private static final int WAIT_MS = 500;

  private final Map<UUID, Set<Consumer<JobChange>>> subscribers = new ConcurrentHashMap<>();
  private final ObjectMapper json;
  private final String url;
  private final String user;
  private final Optional<String> password;
  private volatile boolean running;
  private volatile boolean listening;
  private Thread thread;

  public JobEventHub(
      ObjectMapper json,
      @ConfigProperty(name = "quarkus.datasource.jdbc.url") String url,
      @ConfigProperty(name = "quarkus.datasource.username") String user,
      @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
    this.json = json;
    this.url = url;
    this.user = user;
    this.password = password;
  }

  void start(@Observes StartupEvent event) {
    running = true;
    thread = Thread.ofPlatform().name("job-events-listener").daemon().start(this::listen);
  }

  void stop(@Observes ShutdownEvent event) {
    running = false;
    if (thread != null) {
      thread.interrupt();
    }
  }

  /** Whether the listener connection is up (for tests and readiness of streams). */
  public boolean listening() {
    return listening;
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

  private void listen() {
    long backoffMs = 250;
    while (running) {
      try (Connection c = DriverManager.getConnection(url, user, password.orElse(null))) {
        try (Statement s = c.createStatement()) {
          s.execute("LISTEN " + CHANNEL);
        }
        PGConnection pg = c.unwrap(PGConnection.class);
        listening = true;
        backoffMs = 250;
        // Anything sent while no connection listened is lost: let every stream re-read.
        subscribers.values().forEach(set -> set.forEach(s -> s.accept(RESYNC)));
        while (running) {
          PGNotification[] notifications = pg.getNotifications(WAIT_MS);
          if (notifications == null) {
            continue;
          }
          for (PGNotification n : notifications) {
            dispatch(n.getParameter());
          }
        }
      } catch (SQLException e) {
        listening = false;
        if (!running) {
          return;
        }
        LOG.warnf("job events: listener connection lost (%s), reconnecting", e.getMessage());
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException ie) {
          return;
        }
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
    listening = false;
  }

  private void dispatch(String payload) {
    JobChange change;
    try {
      change = json.readValue(payload, JobChange.class);
    } catch (Exception e) {
      LOG.warnf("job events: unreadable notification %s", payload);
      return;
    }
    Set<Consumer<JobChange>> set = subscribers.get(change.id());
    if (set != null) {
      set.forEach(s -> s.accept(change));
    }
  }
}
