package dev.fleet.gateway.storage;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when the result bucket answers: without it no result link works. */
@Readiness
@ApplicationScoped
public class StorageReadiness implements HealthCheck {
  private final ResultStorage storage;

  public StorageReadiness(ResultStorage storage) {
    this.storage = storage;
  }

  @Override
  public HealthCheckResponse call() {
    var response = HealthCheckResponse.named("S3 bucket").withData("bucket", storage.bucket());
    try {
      return storage.bucketReachable()
          ? response.up().build()
          : response.down().withData("error", "the bucket does not exist").build();
    } catch (Exception e) {
      return response.down().withData("error", String.valueOf(e.getMessage())).build();
    }
  }
}
