package dev.fleet.gateway.outbox;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when a Kafka broker answers within {@link #TIMEOUT}. (quarkus-kafka-client's own check
 * waits for the admin client's 60 s default, longer than any probe.) Submissions do not need Kafka,
 * thanks to the outbox, but a gateway whose jobs cannot reach workers should say so.
 */
@Readiness
@ApplicationScoped
public class KafkaReadiness implements HealthCheck {
  static final Duration TIMEOUT = Duration.ofSeconds(3);

  private final Map<String, Object> config;
  private Admin admin;

  public KafkaReadiness(KafkaClientConfig kafka) {
    Map<String, Object> c = kafka.common();
    c.put(AdminClientConfig.CLIENT_ID_CONFIG, "fleet-gateway-readiness");
    c.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis());
    c.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis());
    this.config = c;
  }

  private synchronized Admin admin() {
    if (admin == null) {
      admin = Admin.create(config);
    }
    return admin;
  }

  @Override
  public HealthCheckResponse call() {
    var response = HealthCheckResponse.named("Kafka");
    try {
      Collection<Node> nodes =
          admin()
              .describeCluster(new DescribeClusterOptions().timeoutMs((int) TIMEOUT.toMillis()))
              .nodes()
              .get(TIMEOUT.toMillis() + 500, TimeUnit.MILLISECONDS);
      String list =
          nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(","));
      return response.up().withData("nodes", list).build();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return response.down().withData("error", "interrupted").build();
    } catch (Exception e) {
      return response
          .down()
          .withData("error", "no broker answered within " + TIMEOUT.toSeconds() + " s")
          .build();
    }
  }

  @PreDestroy
  synchronized void close() {
    if (admin != null) {
      admin.close(Duration.ofSeconds(1));
    }
  }
}
