package dev.fleet.gateway.jobs;

import dev.fleet.model.store.JobStore;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

/** The shared-model {@link JobStore} over the gateway's connection pool. */
public class JobStoreProducer {

  @Produces
  @ApplicationScoped
  JobStore jobStore(AgroalDataSource dataSource, JobsConfig config) {
    return new JobStore(dataSource, config.maxAttempts());
  }
}
