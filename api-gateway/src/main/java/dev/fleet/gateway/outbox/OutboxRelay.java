package dev.fleet.gateway.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sql.DataSource;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Moves outbox rows to Kafka: claims a batch of unsent rows (skipping rows another gateway holds),
 * sends each to its topic keyed by job id, and marks sent only the rows whose send the broker
 * acknowledged; the others stay for the next round, with their error recorded. Delivery is at least
 * once: a crash between the acknowledgement and the commit sends a row again, and workers skip a
 * job that {@code JobStore.markRunning} refuses.
 *
 * <p>It uses the plain Kafka producer, while the worker consumes through SmallRye Reactive
 * Messaging. Not because an {@code Emitter} could not tell a broker acknowledgement: the Kafka
 * connector's sink acks an emitted message only once the broker returned its record metadata, and
 * nacks it when the send fails for good, so the stage {@code Emitter.send} returns would do. But
 * the relay is a loop over a table, not a stream: an emitter would put a buffer and a second retry
 * loop (the sink's own, on top of the producer's) between a row and its outcome, adding no
 * guarantee and a second set of timeouts for the round's acknowledgement deadline to cover; and a
 * channel whose stream fails (a record the sink cannot even build) refuses every later send until
 * the gateway restarts, where a failed {@link Producer#send} is one row that waits for the next
 * round. The producer's settings — idempotent, {@code acks=all}, its delivery timeout below the
 * round's — stay in one place ({@code OutboxRelayService}).
 */
public final class OutboxRelay {
  private final DataSource dataSource;
  private final Producer<String, String> producer;
  private final int batchSize;
  private final Duration ackTimeout;

  /**
   * @param ackTimeout how long a round waits for the broker's acknowledgements (keep it above the
   *     producer's delivery.timeout.ms so that a round ends with every outcome known)
   */
  public OutboxRelay(
      DataSource dataSource,
      Producer<String, String> producer,
      int batchSize,
      Duration ackTimeout) {
    this.dataSource = dataSource;
    this.producer = producer;
    this.batchSize = batchSize;
    this.ackTimeout = ackTimeout;
  }

  /** What one round did. */
  public record Round(int sent, int failed, String lastError) {}

  private record Row(long id, String topic, String key, String payload) {}

  /** One round: claim, send, wait for the acknowledgements, record the outcome, commit. */
  public Round relayOnce() throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        Round round = relay(c);
        c.commit();
        return round;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    }
  }

  private Round relay(Connection c) throws SQLException {
    List<Row> rows = claim(c);
    if (rows.isEmpty()) {
      return new Round(0, 0, null);
    }
    List<Future<RecordMetadata>> sends = new ArrayList<>(rows.size());
    String error = null;
    for (Row row : rows) {
      if (error != null) {
        sends.add(null); // the producer refused one already (no metadata): leave the rest
        continue;
      }
      try {
        sends.add(producer.send(new ProducerRecord<>(row.topic(), row.key(), row.payload())));
      } catch (RuntimeException e) {
        error = describe(e);
        sends.add(null);
      }
    }
    List<Long> sent = new ArrayList<>();
    List<Long> failed = new ArrayList<>();
    long deadline = System.nanoTime() + ackTimeout.toNanos();
    for (int i = 0; i < rows.size(); i++) {
      Future<RecordMetadata> send = sends.get(i);
      if (send != null && acknowledged(send, deadline)) {
        sent.add(rows.get(i).id());
      } else {
        failed.add(rows.get(i).id());
        if (send != null && error == null) {
          error = failure(send);
        }
      }
    }
    if (!sent.isEmpty()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY (?)")) {
        ps.setArray(1, c.createArrayOf("bigint", sent.toArray()));
        ps.executeUpdate();
      }
    }
    if (!failed.isEmpty()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ANY (?)")) {
        ps.setString(1, error);
        ps.setArray(2, c.createArrayOf("bigint", failed.toArray()));
        ps.executeUpdate();
      }
    }
    return new Round(sent.size(), failed.size(), error);
  }

  private List<Row> claim(Connection c) throws SQLException {
    String sql =
        "SELECT id, topic, message_key, payload FROM outbox WHERE sent_at IS NULL"
            + " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED";
    List<Row> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, batchSize);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(new Row(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4)));
        }
      }
    }
    return rows;
  }

  private static boolean acknowledged(Future<RecordMetadata> send, long deadline) {
    try {
      send.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException e) {
      return false;
    }
  }

  private static String failure(Future<RecordMetadata> send) {
    if (!send.isDone()) {
      return "no acknowledgement in time";
    }
    try {
      send.get();
      return null;
    } catch (ExecutionException e) {
      return describe(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  private static String describe(Throwable e) {
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
