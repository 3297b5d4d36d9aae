package dev.fleet.gateway.auth;

import io.quarkus.security.UnauthorizedException;
import io.quarkus.security.identity.SecurityIdentity;

/** The authenticated caller of a request, as {@link ApiKeyIdentityProvider} made it. */
public final class Caller {
  /** Every valid key: the jobs API, scoped to the key's tenant. */
  public static final String USER = "user";

  /** Admin keys: also the keys API. */
  public static final String ADMIN = "admin";

  static final String TENANT = "fleet.tenant";
  static final String KEY_ID = "fleet.key-id";

  private Caller() {}

  /** The tenant of the key that authenticated the request. */
  public static String tenant(SecurityIdentity identity) {
    String tenant = identity.isAnonymous() ? null : identity.getAttribute(TENANT);
    if (tenant == null) {
      throw new UnauthorizedException();
    }
    return tenant;
  }

  /** The public id of the key that authenticated the request. */
  public static String keyId(SecurityIdentity identity) {
    String id = identity.isAnonymous() ? null : identity.getAttribute(KEY_ID);
    if (id == null) {
      throw new UnauthorizedException();
    }
    return id;
  }
}
