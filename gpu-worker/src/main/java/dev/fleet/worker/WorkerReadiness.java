package dev.fleet.worker;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when the model is loaded (construction of ModelRuntime) and the consumer takes jobs. The
 * Kafka connector's own readiness check is off ({@code health-readiness-enabled=false}): a worker
 * serves no traffic, and the client reconnects by itself while the broker is away.
 */
@Readiness
@ApplicationScoped
public class WorkerReadiness implements HealthCheck {
  @Inject ModelRuntime model;
  @Inject JobConsumer consumer;
  @Inject WorkerConfig config;

  @Override
  public HealthCheckResponse call() {
    // DOWN from the moment the worker starts draining, though the loop still finishes its job.
    boolean consuming = consumer.running();
    return HealthCheckResponse.named("worker")
        .status(consuming)
        .withData("model", config.modelName())
        .withData("memoryClass", config.memoryClass())
        .withData("consuming", consuming)
        .withData("draining", consumer.draining())
        .build();
  }
}
