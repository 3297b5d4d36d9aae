package dev.fleet.gateway.auth;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.IdentityProviderManager;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.AuthenticationRequest;
import io.quarkus.vertx.http.runtime.security.ChallengeData;
import io.quarkus.vertx.http.runtime.security.HttpAuthenticationMechanism;
import io.quarkus.vertx.http.runtime.security.HttpCredentialTransport;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/**
 * Quarkus security's mechanism for the API: {@code Authorization: Bearer <API key>}. A request
 * without the header stays anonymous (endpoints that need a caller answer 401); one with any other
 * form of the header, or a key that does not check out, fails authentication (401).
 */
@ApplicationScoped
public class BearerKeyMechanism implements HttpAuthenticationMechanism {
  static final String SCHEME = "Bearer";

  @Override
  public Uni<SecurityIdentity> authenticate(
      RoutingContext context, IdentityProviderManager identityProviderManager) {
    String header = context.request().getHeader(HttpHeaderNames.AUTHORIZATION);
    if (header == null) {
      return Uni.createFrom().nullItem();
    }
    String token = bearer(header);
    if (token == null) {
      return Uni.createFrom()
          .failure(new AuthenticationFailedException("Authorization: use Bearer <API key>"));
    }
    return identityProviderManager.authenticate(new ApiKeyRequest(token));
  }

  /** The token of {@code Bearer <token>} (the scheme in any case), or null. */
  static String bearer(String header) {
    String h = header.strip();
    if (h.length() <= SCHEME.length() + 1
        || !h.regionMatches(true, 0, SCHEME, 0, SCHEME.length())
        || h.charAt(SCHEME.length()) != ' ') {
      return null;
    }
    String token = h.substring(SCHEME.length() + 1).strip();
    return token.isEmpty() ? null : token;
  }

  @Override
  public Uni<ChallengeData> getChallenge(RoutingContext context) {
    return Uni.createFrom()
        .item(
            new ChallengeData(
                HttpResponseStatus.UNAUTHORIZED.code(),
                HttpHeaderNames.WWW_AUTHENTICATE,
                SCHEME + " realm=\"fleet\""));
  }

  @Override
  public Set<Class<? extends AuthenticationRequest>> getCredentialTypes() {
    return Set.of(ApiKeyRequest.class);
  }

  @Override
  public Uni<HttpCredentialTransport> getCredentialTransport(RoutingContext context) {
    return Uni.createFrom()
        .item(
            new HttpCredentialTransport(
                HttpCredentialTransport.Type.AUTHORIZATION, SCHEME.toLowerCase()));
  }
}
