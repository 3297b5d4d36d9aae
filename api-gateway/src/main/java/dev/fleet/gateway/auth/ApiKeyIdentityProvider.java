package dev.fleet.gateway.auth;

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
 * Checks an API key against the {@code api_keys} table (on a worker thread: JDBC blocks) and makes
 * the caller's identity: the principal is the key's public id, the roles {@value Caller#USER} (and
 * {@value Caller#ADMIN} for admin keys), the attribute {@value Caller#TENANT} its tenant.
 */
@ApplicationScoped
public class ApiKeyIdentityProvider implements IdentityProvider<ApiKeyRequest> {
  private final ApiKeyStore keys;

  public ApiKeyIdentityProvider(ApiKeyStore keys) {
    this.keys = keys;
  }

  @Override
  public Class<ApiKeyRequest> getRequestType() {
    return ApiKeyRequest.class;
  }

  @Override
  public Uni<SecurityIdentity> authenticate(
      ApiKeyRequest request, AuthenticationRequestContext context) {
    return context.runBlocking(
        () -> {
          ApiKey key =
              keys.verify(request.token())
                  .orElseThrow(
                      () -> new AuthenticationFailedException("unknown or revoked API key"));
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
        });
  }
}
