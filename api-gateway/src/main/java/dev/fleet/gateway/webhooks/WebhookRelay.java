package dev.fleet.gateway.webhooks;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import org.jboss.logging.Logger;

/**
 * POSTs the jobs' terminal events ({@code webhook_deliveries}, written by a trigger in the
 * transaction that finished the job) to their webhooks, signed ({@link WebhookSigner}). A delivery
 * is claimed for a while (so that another gateway skips it), sent outside any transaction, and then
 * marked delivered on a 2xx answer or scheduled again with backoff ({@code fleet.webhooks.
 * first-backoff}, doubling to {@code max-backoff}); after {@code max-attempts} it is abandoned
 * (kept, with its last error). A gateway that dies mid-delivery leaves the claim to expire, and the
 * event is sent again: deliveries are at least once, and receivers dedupe on {@code
 * Fleet-Event-Id}. Redirects are not followed; the address policy is asked again before each POST.
 */
@ApplicationScoped
public class WebhookRelay {
  private static final Logger LOG = Logger.getLogger(WebhookRelay.class);
  static final int BATCH = 20;

  private final AgroalDataSource dataSource;
  private final WebhooksConfig config;
  private final Webhooks webhooks;
  private final HttpClient http;
  private volatile boolean running;
  private Thread thread;

  public WebhookRelay(AgroalDataSource dataSource, WebhooksConfig config, Webhooks webhooks) {
    this.dataSource = dataSource;
    this.config = config;
    this.webhooks = webhooks;
    this.http =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(config.timeout())
            .build();
  }

  void start(@Observes StartupEvent event) {
    if (webhooks.signer().isEmpty()) {
      return; // no job can have a webhook
    }
    running = true;
    thread = Thread.ofPlatform().name("webhook-relay").daemon().start(this::loop);
  }

  private void loop() {
    while (running) {
      int sent = 0;
      try {
        sent = deliverDue();
      } catch (Exception e) {
        LOG.warnf("webhooks: round failed, retrying: %s", e.toString());
      }
      if (sent < BATCH) {
        LockSupport.parkNanos(config.pollInterval().toNanos());
      }
    }
  }

  /** One due delivery, claimed. */
  private record Due(long id, URI url, String payload, int attempt) {}

  /** Claims and sends the due deliveries; how many were tried. */
  int deliverDue() throws SQLException {
    List<Due> due = claim();
    for (Due d : due) {
      Optional<String> failure = send(d);
      if (failure.isEmpty()) {
        mark(
            "UPDATE webhook_deliveries SET delivered_at = now(), last_error = NULL WHERE id = ?",
            d.id());
      } else {
        retryLater(d, failure.get());
      }
    }
    return due.size();
  }

  private List<Due> claim() throws SQLException {
    // Claimed for longer than a POST may take; an unfinished claim (the gateway died) expires.
    long claimMillis = config.timeout().multipliedBy(3).toMillis();
    String sql =
        "UPDATE webhook_deliveries SET attempts = attempts + 1,"
            + " next_attempt_at = now() + ? * interval '1 millisecond'"
            + " WHERE id IN (SELECT id FROM webhook_deliveries WHERE delivered_at IS NULL"
            + " AND abandoned_at IS NULL AND next_attempt_at <= now()"
            + " ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)"
            + " RETURNING id, url, payload, attempts";
    List<Due> due = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, claimMillis);
      ps.setInt(2, BATCH);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          due.add(
              new Due(rs.getLong(1), URI.create(rs.getString(2)), rs.getString(3), rs.getInt(4)));
        }
      }
    }
    return due;
  }

  /** Empty when the receiver took the event (2xx); otherwise what went wrong. */
  private Optional<String> send(Due d) {
    Optional<String> refusal = webhooks.policy().refusal(d.url());
    if (refusal.isPresent()) {
      return Optional.of("the webhook " + refusal.get());
    }
    long now = Instant.now().getEpochSecond();
    HttpRequest request =
        HttpRequest.newBuilder(d.url())
            .timeout(config.timeout())
            .header("Content-Type", "application/json")
            .header("User-Agent", "fleet-webhooks")
            .header(WebhookSigner.EVENT_ID_HEADER, Long.toString(d.id()))
            .header(WebhookSigner.HEADER, webhooks.signer().orElseThrow().sign(now, d.payload()))
            .POST(HttpRequest.BodyPublishers.ofString(d.payload()))
            .build();
    try {
      HttpResponse<Void> r = http.send(request, HttpResponse.BodyHandlers.discarding());
      return r.statusCode() / 100 == 2
          ? Optional.empty()
          : Optional.of("the receiver answered " + r.statusCode());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("interrupted");
    } catch (Exception e) {
      return Optional.of(e.toString());
    }
  }

  private void retryLater(Due d, String error) throws SQLException {
    boolean last = d.attempt() >= config.maxAttempts();
    Duration wait = backoff(d.attempt());
    String sql =
        "UPDATE webhook_deliveries SET last_error = ?,"
            + " next_attempt_at = now() + ? * interval '1 millisecond',"
            + " abandoned_at = CASE WHEN ? THEN now() END WHERE id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, error);
      ps.setLong(2, wait.toMillis());
      ps.setBoolean(3, last);
      ps.setLong(4, d.id());
      ps.executeUpdate();
    }
    if (last) {
      LOG.warnf(
          "webhook event %d to %s abandoned after %d attempts: %s",
          d.id(), d.url(), d.attempt(), error);
    }
  }

  /** The wait after failed delivery {@code attempt} (1-based): first-backoff, doubling, capped. */
  Duration backoff(int attempt) {
    Duration wait = config.firstBackoff();
    for (int i = 1; i < attempt && wait.compareTo(config.maxBackoff()) < 0; i++) {
      wait = wait.multipliedBy(2);
    }
    return wait.compareTo(config.maxBackoff()) > 0 ? config.maxBackoff() : wait;
  }

  private void mark(String sql, long id) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, id);
      ps.executeUpdate();
    }
  }

  void stop(@Observes ShutdownEvent event) {
    running = false;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
      try {
        t.join(config.timeout().plusSeconds(2).toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
