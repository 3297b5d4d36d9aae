package dev.fleet.gateway.auth;

import io.quarkus.security.identity.request.BaseAuthenticationRequest;

/**
 * The key of an {@code Authorization: Bearer} header, to be checked by {@link
 * ApiKeyIdentityProvider}.
 */
public final class ApiKeyRequest extends BaseAuthenticationRequest {
  private final String token;

  ApiKeyRequest(String token) {
    this.token = token;
  }

  String token() {
    return token;
  }

  @Override
  public String toString() {
    return "ApiKeyRequest"; // never the key
  }
}
