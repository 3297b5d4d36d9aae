package dev.fleet.worker;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when the model is loaded (construction of ModelRuntime) and the consumer loop runs. */
@Readiness
@ApplicationScoped
public class WorkerReadiness implements HealthCheck {
  @Inject ModelRuntime model;
  @Inject JobConsumer consumer;
  @Inject WorkerConfig config;

  @Override
  public HealthCheckResponse call() {
    // DOWN from the moment the worker starts draining, though the loop still finishes its job.
    boolean consuming = !consumer.draining() && (!config.consume() || consumer.running());
    return HealthCheckResponse.named("worker")
        .status(consuming)
        .withData("model", config.modelName())
        .withData("memoryClass", config.memoryClass())
        .withData("consuming", consuming)
        .withData("draining", consumer.draining())
        .build();
  }
}
