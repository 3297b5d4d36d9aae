package dev.fleet.stack;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (zonky's binaries, unpacked from a Maven artifact) running as a child
 * process, with its cluster in a directory that survives restarts.
 *
 * <p>The first start runs initdb (trust authentication on localhost, superuser {@code postgres});
 * every start makes sure the application role and database exist.
 */
public final class EmbeddedPostgres implements AutoCloseable {
  public static final String DATABASE = "fleet";
  public static final String USER = "fleet";
  public static final String PASSWORD = "fleet";
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgres.class);

  private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;
  private boolean closed;

  private EmbeddedPostgres(io.zonky.test.db.postgres.embedded.EmbeddedPostgres server) {
    this.server = server;
  }

  /**
   * Starts PostgreSQL on {@code dataDir} (initdb only if it holds no cluster yet) and creates the
   * {@code fleet} role and database if missing.
   *
   * @param port the port to listen on, 0 for a free one
   */
  public static EmbeddedPostgres start(Path dataDir, int port) throws IOException {
    Files.createDirectories(dataDir);
    stopOrphanedServer(dataDir);
    var server =
        io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
            .setDataDirectory(dataDir.toAbsolutePath())
            // Keep the data: zonky deletes the directory on close by default.
            .setCleanDataDirectory(false)
            .setPort(Ports.resolveFree(port, "PostgreSQL"))
            // The owner closes us; zonky's own hook would race with that on JVM exit.
            .setRegisterShutdownHook(false)
            .setPGStartupWait(Duration.ofSeconds(20))
            .start();
    EmbeddedPostgres postgres = new EmbeddedPostgres(server);
    try {
      postgres.ensureRoleAndDatabase();
    } catch (SQLException | RuntimeException e) {
      postgres.close();
      throw new IOException("cannot prepare database " + DATABASE, e);
    }
    return postgres;
  }

  /**
   * A JVM that was killed (not stopped) leaves its PostgreSQL child running on the directory, and a
   * new server would refuse to start there. If {@code postmaster.pid} names a live postgres process
   * and no live JVM holds zonky's lock on the directory, ask that server to shut down (SIGTERM: it
   * waits for clients, whose JVM is gone anyway).
   */
  static void stopOrphanedServer(Path dataDir) throws IOException {
    Path pidFile = dataDir.resolve("postmaster.pid");
    if (!Files.exists(pidFile)) {
      return;
    }
    // zonky holds a lock on this file while its server runs; the lock dies with the JVM.
    try (FileChannel channel =
            FileChannel.open(
                dataDir.resolve("epg-lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.tryLock()) {
      if (lock == null) {
        return; // a running stack owns the server
      }
      Optional<ProcessHandle> server = postmaster(pidFile, dataDir);
      if (server.isEmpty()) {
        return; // a stale file: PostgreSQL itself removes it on start
      }
      LOG.warn("stopping orphaned PostgreSQL (pid {}) on {}", server.get().pid(), dataDir);
      server.get().destroy();
      try {
        server.get().onExit().get(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IOException(
            "orphaned PostgreSQL (pid " + server.get().pid() + ") on " + dataDir + " still runs");
      }
    } catch (OverlappingFileLockException e) {
      // This JVM runs a server on the directory: not an orphan.
    }
  }

  /**
   * The JDBC URL of the {@code fleet} database of the server that runs on {@code dataDir} (the
   * {@code postgres/} directory of a stack), found through its {@code postmaster.pid}: the server's
   * process id (alive), its data directory, and the port it listens on (line 4).
   */
  public static Optional<String> runningJdbcUrl(Path dataDir) throws IOException {
    Path pidFile = dataDir.resolve("postmaster.pid");
    if (!Files.isRegularFile(pidFile)) {
      return Optional.empty();
    }
    List<String> lines = Files.readAllLines(pidFile);
    if (lines.size() < 4 || postmaster(pidFile, dataDir).filter(ProcessHandle::isAlive).isEmpty()) {
      return Optional.empty();
    }
    try {
      int port = Integer.parseInt(lines.get(3).trim());
      return Optional.of("jdbc:postgresql://localhost:" + port + "/" + DATABASE);
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static Optional<ProcessHandle> postmaster(Path pidFile, Path dataDir) throws IOException {
    List<String> lines = Files.readAllLines(pidFile);
    if (lines.size() < 2 || !Path.of(lines.get(1)).equals(dataDir.toAbsolutePath())) {
      return Optional.empty();
    }
    try {
      return ProcessHandle.of(Long.parseLong(lines.get(0).trim()))
          .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private void ensureRoleAndDatabase() throws SQLException {
    try (Connection c = server.getPostgresDatabase().getConnection();
        Statement s = c.createStatement()) {
      if (!exists(c, "SELECT 1 FROM pg_roles WHERE rolname = ?", USER)) {
        s.execute("CREATE ROLE " + USER + " LOGIN PASSWORD '" + PASSWORD + "'");
      }
      // CREATE DATABASE has no IF NOT EXISTS and cannot run inside a DO block.
      if (!exists(c, "SELECT 1 FROM pg_database WHERE datname = ?", DATABASE)) {
        s.execute("CREATE DATABASE " + DATABASE + " OWNER " + USER);
      }
    }
  }

  private static boolean exists(Connection c, String sql, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  /** JDBC URL of the {@code fleet} database, without credentials. */
  public String jdbcUrl() {
    return "jdbc:postgresql://localhost:" + port() + "/" + DATABASE;
  }

  public String user() {
    return USER;
  }

  public String password() {
    return PASSWORD;
  }

  public int port() {
    return server.getPort();
  }

  /** Fast shutdown ({@code pg_ctl stop -m fast}); the data directory stays. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    server.close();
  }
}
