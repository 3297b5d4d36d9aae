package dev.fleet.gateway.auth;

import dev.fleet.model.auth.ApiKeyStore;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

/** The shared-model {@link ApiKeyStore} over the gateway's connection pool. */
public class ApiKeyStoreProducer {

  @Produces
  @ApplicationScoped
  ApiKeyStore apiKeyStore(AgroalDataSource dataSource) {
    return new ApiKeyStore(dataSource);
  }
}
