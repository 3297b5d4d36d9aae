package dev.fleet.launcher;

import dev.fleet.model.auth.ApiKey;
import dev.fleet.model.auth.ApiKeyStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The local development key of a fleet started by {@code ./fleet up} or {@code ./fleet run}: an
 * ordinary API key of tenant {@value #TENANT} (not an admin key), whose text is kept in {@code
 * <data>/dev-key}, readable by its owner only (0600), so that the next {@code ./fleet up} on the
 * same data and {@code ./fleet run} against that fleet find it again. A key in that file that no
 * longer checks out (revoked, or the data was reset) is replaced by a new one.
 */
public final class DevKey {
  public static final String TENANT = "local";
  public static final String FILE = "dev-key";
  static final String NAME = "local development key (./fleet up)";

  private DevKey() {}

  /** The data directory's development key, made (and stored) if it has none that works. */
  public static String ensure(ApiKeyStore keys, Path dataDir) throws IOException {
    Path file = dataDir.resolve(FILE);
    Optional<String> saved = read(dataDir);
    if (saved.isPresent()) {
      Optional<ApiKey> key = keys.verify(saved.get());
      if (key.isPresent()) {
        return saved.get();
      }
    }
    String secret = keys.create(TENANT, false, NAME).secret();
    write(file, secret);
    return secret;
  }

  /** The key kept in {@code <data>/dev-key}, if there is one (not checked). */
  public static Optional<String> read(Path dataDir) {
    Path file = dataDir.resolve(FILE);
    try {
      if (!Files.isRegularFile(file)) {
        return Optional.empty();
      }
      String s = Files.readString(file, StandardCharsets.US_ASCII).strip();
      return s.isEmpty() ? Optional.empty() : Optional.of(s);
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** A data source on the {@code fleet} database of a stack at {@code jdbcUrl}. */
  static PGSimpleDataSource dataSource(String jdbcUrl, String user, String password) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(jdbcUrl);
    ds.setUser(user);
    ds.setPassword(password);
    ds.setConnectTimeout(5);
    return ds;
  }

  /** Writes the key to a new 0600 file first, then moves it in place. */
  private static void write(Path file, String secret) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    try {
      Files.createFile(
          tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(tmp); // not a POSIX file system
    } catch (FileAlreadyExistsException e) {
      throw new IOException("cannot write " + tmp, e);
    }
    Files.writeString(tmp, secret + System.lineSeparator(), StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
