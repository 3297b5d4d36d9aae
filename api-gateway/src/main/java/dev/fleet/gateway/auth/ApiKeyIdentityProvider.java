package dev.fleet.gateway.auth;

import dev.fleet.gateway.notify.PgNotifications;
import dev.fleet.model.auth.ApiKey;
import dev.fleet.model.auth.ApiKeyStore;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Checks an API key and makes the caller's identity: the principal is the key's public id, the
 * roles {@value Caller#USER} (and {@value Caller#ADMIN} for admin keys), the attribute {@value
 * Caller#TENANT} its tenant.
 *
 * <p>A key checked before is found in the {@link KeyCache} on the request's own thread, with no
 * query; any other goes to the {@code api_keys} table on a worker thread (JDBC blocks) and, if it
 * is good, into the cache. The cache is consulted only while the {@code api_key_revocations}
 * notifications are being listened to, drops a key as soon as it is revoked (by this gateway at
 * once, by anybody else when PostgreSQL's notification arrives, milliseconds later) and everything
 * when the listener reconnects; {@code fleet.auth.key-cache-ttl} (0 turns the cache off) bounds how
 * long a key stays without being checked again.
 */
@ApplicationScoped
public class ApiKeyIdentityProvider implements IdentityProvider<ApiKeyRequest> {
  static final String REVOCATIONS = "api_key_revocations";

  private final ApiKeyStore keys;
  private final KeyCache cache;
  private final PgNotifications notifications;

  public ApiKeyIdentityProvider(
      ApiKeyStore keys, PgNotifications notifications, AuthConfig config) {
    this.keys = keys;
    this.notifications = notifications;
    this.cache = new KeyCache(config.keyCacheTtl(), config.keyCacheSize(), System::nanoTime);
    keys.onRevoke(cache::forget);
    notifications.subscribe(REVOCATIONS, cache::forget, cache::clear);
  }

  @Override
  public Class<ApiKeyRequest> getRequestType() {
    return ApiKeyRequest.class;
  }

  @Override
  public Uni<SecurityIdentity> authenticate(
      ApiKeyRequest request, AuthenticationRequestContext context) {
    if (notifications.listening(REVOCATIONS)) {
      var known = cache.get(request.token());
      if (known.isPresent()) {
        return Uni.createFrom().item(identity(known.get()));
      }
    }
    return context.runBlocking(
        () -> {
          ApiKey key =
              keys.verify(request.token())
                  .orElseThrow(
                      () -> new AuthenticationFailedException("unknown or revoked API key"));
          if (notifications.listening(REVOCATIONS)) {
            cache.put(request.token(), key);
          }
          return identity(key);
        });
  }

  private static SecurityIdentity identity(ApiKey key) {
    QuarkusSecurityIdentity.Builder identity =
        QuarkusSecurityIdentity.builder()
            .setPrincipal(new QuarkusPrincipal(key.id()))
            .addRole(Caller.USER)
            .addAttribute(Caller.TENANT, key.tenant())
            .addAttribute(Caller.KEY_ID, key.id());
    if (key.admin()) {
      identity.addRole(Caller.ADMIN);
    }
    return identity.build();
  }
}
