package dev.fleet.gateway.outbox;

import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The settings every Kafka client of the gateway starts from: the {@code kafka.*} configuration as
 * quarkus-kafka-client collects it (security settings included) and the bootstrap servers.
 */
@ApplicationScoped
public class KafkaClientConfig {
  private final Map<String, Object> common;

  public KafkaClientConfig(
      @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers,
      @Identifier("default-kafka-broker") Instance<Map<String, Object>> kafkaDefaults) {
    Map<String, Object> c = new HashMap<>();
    if (kafkaDefaults.isResolvable()) {
      c.putAll(kafkaDefaults.get());
    }
    c.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    // Consumer-only keys that a shared kafka.* block may hold; producers and admins warn on them.
    c.keySet().removeIf(k -> k.startsWith("group.") || k.equals("auto.offset.reset"));
    this.common = Map.copyOf(c);
  }

  /** A fresh, mutable copy. */
  public Map<String, Object> common() {
    return new HashMap<>(common);
  }
}
