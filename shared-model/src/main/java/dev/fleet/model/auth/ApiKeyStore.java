package dev.fleet.model.auth;

import dev.fleet.model.store.JobStoreException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * API keys in PostgreSQL ({@code api_keys}, see {@code V2__api_keys.sql}), over plain JDBC: the
 * gateway checks keys with it, {@code ./fleet keys} and the admin API make and revoke them.
 *
 * <p>A key reads {@code fk_<id>_<secret>}: {@code id} is {@value #ID_LENGTH} random lowercase
 * letters and digits (the public id), {@code secret} 32 random bytes in unpadded base64url. Only
 * {@code SHA-256(salt || secret)} is stored, with a random 16-byte salt per key. A fast hash is
 * enough here, unlike for passwords: the secret has 256 bits of entropy, so nobody can guess it
 * from the hash, and the salt keeps equal secrets (there are none) from having equal hashes.
 */
public final class ApiKeyStore {
  public static final String PREFIX = "fk_";
  public static final int ID_LENGTH = 12;

  /** Tenant names: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit. */
  public static final Pattern TENANT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  public static final int MAX_NAME = 200;

  private static final String ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
  private static final int SECRET_BYTES = 32;
  private static final int SECRET_CHARS = 43; // base64url of 32 bytes, unpadded
  private static final Pattern ID = Pattern.compile("[a-z0-9]{" + ID_LENGTH + "}");
  private static final Pattern SECRET = Pattern.compile("[A-Za-z0-9_-]{" + SECRET_CHARS + "}");
  private static final String COLUMNS = "id, tenant, admin, name, created_at, revoked_at";

  private final DataSource dataSource;
  private final SecureRandom random = new SecureRandom();
  private final List<Consumer<String>> revocationListeners = new CopyOnWriteArrayList<>();

  public ApiKeyStore(DataSource dataSource) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
  }

  /** A new key: what is stored, and the key itself, which exists nowhere else. */
  public record Created(ApiKey key, String secret) {
    @Override
    public String toString() {
      return "Created[" + key + "]"; // never the secret
    }
  }

  /**
   * Makes a key for {@code tenant}.
   *
   * @throws IllegalArgumentException the tenant or the name is not acceptable
   */
  public Created create(String tenant, boolean admin, String name) {
    checkTenant(tenant);
    if (name != null
        && (name.length() > MAX_NAME || name.chars().anyMatch(Character::isISOControl))) {
      throw new IllegalArgumentException(
          "name: at most " + MAX_NAME + " characters, no control characters");
    }
    byte[] secretBytes = new byte[SECRET_BYTES];
    random.nextBytes(secretBytes);
    String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
    byte[] salt = new byte[16];
    random.nextBytes(salt);
    String sql =
        "INSERT INTO api_keys (id, tenant, admin, name, salt, hash) VALUES (?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (id) DO NOTHING RETURNING "
            + COLUMNS;
    try (Connection c = dataSource.getConnection()) {
      for (int attempt = 0; attempt < 5; attempt++) {
        String id = randomId();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setString(1, id);
          ps.setString(2, tenant);
          ps.setBoolean(3, admin);
          ps.setString(4, name);
          ps.setBytes(5, salt);
          ps.setBytes(6, hash(salt, secret));
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
              return new Created(key(rs), PREFIX + id + "_" + secret);
            }
          }
        }
      }
      throw new SQLException("no free key id after 5 tries");
    } catch (SQLException e) {
      throw new JobStoreException("create API key for " + tenant, e);
    }
  }

  /** The key whose full text is {@code token}, if it exists, is not revoked and matches. */
  public Optional<ApiKey> verify(String token) {
    Optional<Parsed> parsed = parse(token);
    if (parsed.isEmpty()) {
      return Optional.empty();
    }
    String sql =
        "SELECT " + COLUMNS + ", salt, hash FROM api_keys WHERE id = ? AND revoked_at IS NULL";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, parsed.get().id());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        byte[] expected = rs.getBytes("hash");
        byte[] actual = hash(rs.getBytes("salt"), parsed.get().secret());
        return MessageDigest.isEqual(expected, actual) ? Optional.of(key(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new JobStoreException("check API key", e);
    }
  }

  /**
   * The key {@code id}; empty for an id that cannot be one (any text: an id of another form, NUL
   * included, never reaches PostgreSQL, which would refuse it as an error rather than find
   * nothing).
   */
  public Optional<ApiKey> find(String id) {
    if (id == null || !ID.matcher(id).matches()) {
      return Optional.empty();
    }
    String sql = "SELECT " + COLUMNS + " FROM api_keys WHERE id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(key(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new JobStoreException("find API key " + id, e);
    }
  }

  /** Every key (revoked ones too), oldest first; only {@code tenant}'s unless it is null. */
  public List<ApiKey> list(String tenant) {
    String sql =
        "SELECT "
            + COLUMNS
            + " FROM api_keys"
            + (tenant == null ? "" : " WHERE tenant = ?")
            + " ORDER BY created_at, id";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      if (tenant != null) {
        ps.setString(1, tenant);
      }
      List<ApiKey> keys = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          keys.add(key(rs));
        }
      }
      return keys;
    } catch (SQLException e) {
      throw new JobStoreException("list API keys", e);
    }
  }

  /** What {@link #revoke} did. */
  public enum RevokeOutcome {
    REVOKED,
    ALREADY_REVOKED,
    NOT_FOUND
  }

  /**
   * Runs {@code listener} with a key's public id once this store has revoked it (a revocation by
   * another process reaches only PostgreSQL's {@code api_key_revocations} channel, see {@code
   * V5__api_key_revocations.sql}).
   */
  public void onRevoke(Consumer<String> listener) {
    revocationListeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /** Revokes the key {@code id}: from now on it authenticates nothing. */
  public RevokeOutcome revoke(String id) {
    if (id == null || !ID.matcher(id).matches()) {
      return RevokeOutcome.NOT_FOUND;
    }
    String sql = "UPDATE api_keys SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, id);
      if (ps.executeUpdate() == 1) {
        revocationListeners.forEach(l -> l.accept(id));
        return RevokeOutcome.REVOKED;
      }
    } catch (SQLException e) {
      throw new JobStoreException("revoke API key " + id, e);
    }
    return find(id).isPresent() ? RevokeOutcome.ALREADY_REVOKED : RevokeOutcome.NOT_FOUND;
  }

  /** The public id of a key's text, if it has the form of one (nothing is looked up). */
  public static Optional<String> idOf(String token) {
    return parse(token).map(Parsed::id);
  }

  public static void checkTenant(String tenant) {
    if (tenant == null || !TENANT.matcher(tenant).matches()) {
      throw new IllegalArgumentException(
          "tenant: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
  }

  private record Parsed(String id, String secret) {}

  private static Optional<Parsed> parse(String token) {
    if (token == null
        || token.length() != PREFIX.length() + ID_LENGTH + 1 + SECRET_CHARS
        || !token.startsWith(PREFIX)
        || token.charAt(PREFIX.length() + ID_LENGTH) != '_') {
      return Optional.empty();
    }
    String id = token.substring(PREFIX.length(), PREFIX.length() + ID_LENGTH);
    String secret = token.substring(PREFIX.length() + ID_LENGTH + 1);
    if (!ID.matcher(id).matches() || !SECRET.matcher(secret).matches()) {
      return Optional.empty();
    }
    return Optional.of(new Parsed(id, secret));
  }

  private String randomId() {
    StringBuilder b = new StringBuilder(ID_LENGTH);
    for (int i = 0; i < ID_LENGTH; i++) {
      b.append(ID_ALPHABET.charAt(random.nextInt(ID_ALPHABET.length())));
    }
    return b.toString();
  }

  private static byte[] hash(byte[] salt, String secret) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(salt);
      sha.update(secret.getBytes(StandardCharsets.US_ASCII));
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static ApiKey key(ResultSet rs) throws SQLException {
    return new ApiKey(
        rs.getString("id"),
        rs.getString("tenant"),
        rs.getBoolean("admin"),
        rs.getString("name"),
        instant(rs, "created_at"),
        instant(rs, "revoked_at"));
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }
}
