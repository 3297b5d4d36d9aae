package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.JobStoreException;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A run whose job store stays away past the retry patience, on the real store and model: the Kafka
 * connector cannot rewind to its record, so what the run leaves behind must let the job go on.
 * Before the take nothing changed ({@link Outcome#NOT_TAKEN}, the consumer tries again); after it
 * the job stays RUNNING with its lease row, which the gateway's reaper finds once the lease has
 * expired and re-queues as the next attempt. Runners are driven directly, on a class whose topic no
 * consumer of this application reads.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class StoreOutageTest {
  static final MemoryClass CLASS = MemoryClass.VRAM_12G;
  static final GenerationSpec SPEC = new GenerationSpec("away", 4, 2, 32, 32, 3.5, "flux-tiny");

  @Inject DataSource dataSource;
  @Inject ModelRuntime model;

  /** The database as the worker sees it: reachable until {@link #away} is set. */
  private final AtomicBoolean away = new AtomicBoolean();

  private JobRunner runner(JobStore store, LeaseKeeper leases, JobRunner.Generator generator) {
    ImageSink sink =
        new ImageSink() {
          @Override
          public void put(String key, byte[] png) {}

          @Override
          public void delete(String key) {}
        };
    return new JobRunner(
        store,
        leases,
        Duration.ofMillis(400),
        sink,
        generator,
        model::refusal,
        "worker-away",
        "flux-tiny",
        Duration.ofMinutes(1),
        Duration.ZERO,
        () -> false,
        Clock.systemUTC());
  }

  @Test
  void aJobThatCannotBeTakenIsLeftUnchanged() {
    JobStore real = new JobStore(dataSource);
    UUID id = insert(real);
    away.set(true);
    JobStore flaky = new JobStore(new Flaky());
    try (LeaseKeeper leases = new LeaseKeeper(flaky, Duration.ofSeconds(10))) {
      Outcome outcome = runner(flaky, leases, model::generate).run(message(id));
      assertEquals(Outcome.NOT_TAKEN, outcome);
    }
    Job job = real.find(id).orElseThrow();
    assertEquals(JobState.QUEUED, job.state());
    assertEquals(1, job.attempts());
  }

  @Test
  void aRunThatCannotStoreItsOutcomeLeavesItsLeaseForTheReaper() throws Exception {
    JobStore real = new JobStore(dataSource);
    UUID id = insert(real);
    JobStore flaky = new JobStore(new Flaky());
    JobRunner.Generator thenAway =
        (spec, listener) -> {
          var image = model.generate(spec, listener);
          away.set(true); // the database goes before the run stores its success
          return image;
        };
    try (LeaseKeeper leases = new LeaseKeeper(flaky, Duration.ofMillis(100))) {
      assertThrows(JobStoreException.class, () -> runner(flaky, leases, thenAway).run(message(id)));
    }
    away.set(false);
    Job job = real.find(id).orElseThrow();
    assertEquals(JobState.RUNNING, job.state(), "left as it was");
    assertEquals(1, heartbeatRows(id), "the lease row stays for the reaper");

    age(id);
    assertEquals(1, real.requeueExpired(Duration.ofMinutes(30), 100).requeued());
    Job requeued = real.find(id).orElseThrow();
    assertEquals(JobState.QUEUED, requeued.state());
    assertEquals(2, requeued.attempts());
  }

  private UUID insert(JobStore store) {
    UUID id = UUID.randomUUID();
    store.insert(new NewJob(id, "t1", null, null, SPEC, CLASS, 1L << 30));
    return id;
  }

  private static JobMessage message(UUID id) {
    return JobMessage.of(id, "t1", SPEC, CLASS, 1);
  }

  private int heartbeatRows(UUID id) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM job_heartbeats WHERE job_id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  /** The job's last heartbeat an hour ago. */
  private void age(UUID id) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE job_heartbeats SET beat_at = now() - interval '1 hour' WHERE job_id = ?")) {
      ps.setObject(1, id);
      assertEquals(1, ps.executeUpdate());
    }
  }

  /**
   * The application's DataSource, refusing every statement while the database is "away" — except
   * the release of a lease row, as if the database came back just as the run gave up: the row must
   * stay all the same.
   */
  private final class Flaky implements DataSource {
    @Override
    public Connection getConnection() throws SQLException {
      Connection real = dataSource.getConnection();
      return (Connection)
          Proxy.newProxyInstance(
              Connection.class.getClassLoader(),
              new Class<?>[] {Connection.class},
              (proxy, method, args) -> {
                if (away.get()
                    && method.getName().startsWith("prepare")
                    && !String.valueOf(args[0]).startsWith("DELETE FROM job_heartbeats")) {
                  throw new SQLException("connection refused (the test's outage)", "08001");
                }
                try {
                  return method.invoke(real, args);
                } catch (InvocationTargetException e) {
                  throw e.getCause();
                }
              });
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return false;
    }
  }
}
