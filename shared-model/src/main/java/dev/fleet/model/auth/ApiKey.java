package dev.fleet.model.auth;

import java.time.Instant;
import java.util.Objects;

/**
 * What is known of an API key (never its secret).
 *
 * @param id the short public id, also the key's prefix: names it for listing and revocation
 * @param tenant the tenant whose jobs the key reads and writes
 * @param admin whether the key may also manage keys
 * @param name a label for people, or null
 * @param revokedAt when it was revoked, or null while it is valid
 */
public record ApiKey(
    String id, String tenant, boolean admin, String name, Instant createdAt, Instant revokedAt) {
  public ApiKey {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(tenant, "tenant");
  }

  public boolean revoked() {
    return revokedAt != null;
  }
}
