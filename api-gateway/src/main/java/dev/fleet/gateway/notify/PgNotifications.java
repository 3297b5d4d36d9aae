package dev.fleet.gateway.notify;

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
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The gateway's one PostgreSQL listener: a dedicated connection, owned by one thread, that LISTENs
 * on every channel somebody subscribed to and hands each notification's payload to that channel's
 * subscribers. Subscribers must not block (they queue the work for their own thread).
 *
 * <p>A channel subscribed to while the thread runs is LISTENed within {@value #WAIT_MS} ms.
 * Whenever a channel starts being listened on (its first LISTEN, and again after the connection
 * broke and was opened again) its subscribers' {@code onResync} runs: notifications sent while
 * nobody listened are lost, so whatever a subscriber derived from them must be re-read or dropped.
 */
@ApplicationScoped
public class PgNotifications {
  private static final Logger LOG = Logger.getLogger(PgNotifications.class);
  private static final int WAIT_MS = 250;
  private static final Pattern CHANNEL = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  private record Subscriber(Consumer<String> onPayload, Runnable onResync) {}

  private final Map<String, Set<Subscriber>> channels = new ConcurrentHashMap<>();
  private final Set<String> listened = ConcurrentHashMap.newKeySet();
  private final String url;
  private final String user;
  private final Optional<String> password;
  private volatile boolean running;
  private Thread thread;

  public PgNotifications(
      @ConfigProperty(name = "quarkus.datasource.jdbc.url") String url,
      @ConfigProperty(name = "quarkus.datasource.username") String user,
      @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
    this.url = url;
    this.user = user;
    this.password = password;
  }

  void start(@Observes StartupEvent event) {
    running = true;
    thread = Thread.ofPlatform().name("pg-notifications").daemon().start(this::listen);
  }

  void stop(@Observes ShutdownEvent event) {
    running = false;
    if (thread != null) {
      thread.interrupt();
    }
  }

  /**
   * Hands every payload sent on {@code channel} to {@code onPayload}, and calls {@code onResync}
   * each time the channel starts being listened on; the returned action unsubscribes.
   */
  public Runnable subscribe(String channel, Consumer<String> onPayload, Runnable onResync) {
    if (!CHANNEL.matcher(channel).matches()) {
      throw new IllegalArgumentException("not a channel name: " + channel);
    }
    Subscriber s = new Subscriber(onPayload, onResync);
    channels.computeIfAbsent(channel, k -> ConcurrentHashMap.newKeySet()).add(s);
    return () -> channels.getOrDefault(channel, Set.of()).remove(s);
  }

  /** Whether {@code channel} is being listened on now (nothing sent on it is being missed). */
  public boolean listening(String channel) {
    return listened.contains(channel);
  }

  private void listen() {
    long backoffMs = 250;
    while (running) {
      try (Connection c = DriverManager.getConnection(url, user, password.orElse(null))) {
        PGConnection pg = c.unwrap(PGConnection.class);
        backoffMs = 250;
        while (running) {
          listenToNewChannels(c);
          PGNotification[] notifications = pg.getNotifications(WAIT_MS);
          if (notifications != null) {
            for (PGNotification n : notifications) {
              dispatch(n.getName(), n.getParameter());
            }
          }
        }
      } catch (SQLException e) {
        listened.clear();
        if (!running) {
          return;
        }
        LOG.warnf("notifications: listener connection lost (%s), reconnecting", e.getMessage());
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException ie) {
          return;
        }
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
    listened.clear();
  }

  private void listenToNewChannels(Connection c) throws SQLException {
    for (Map.Entry<String, Set<Subscriber>> e : channels.entrySet()) {
      if (listened.contains(e.getKey())) {
        continue;
      }
      try (Statement s = c.createStatement()) {
        s.execute("LISTEN " + e.getKey());
      }
      // Resync first, then report the channel listened: a cache consulted only while its channel
      // is listened to is cleared before anyone may consult it again, never just after.
      e.getValue().forEach(sub -> sub.onResync().run());
      listened.add(e.getKey());
    }
  }

  private void dispatch(String channel, String payload) {
    for (Subscriber s : channels.getOrDefault(channel, Set.of())) {
      try {
        s.onPayload().accept(payload);
      } catch (RuntimeException e) {
        LOG.warnf(e, "notifications: a subscriber of %s failed on %s", channel, payload);
      }
    }
  }
}
