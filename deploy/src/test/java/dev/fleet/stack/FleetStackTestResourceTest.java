package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Quarkus test resource hands out the very stack that the JUnit extension shares. */
@ExtendWith(FleetStackExtension.class)
class FleetStackTestResourceTest {

  @Test
  void overridesPointAtTheSharedStack(StackEndpoints stack) {
    var resource = new FleetStackTestResource();
    Map<String, String> config = resource.start();
    resource.stop(); // must leave the shared stack running

    assertEquals(
        List.of(
            "kafka.bootstrap.servers",
            "quarkus.datasource.jdbc.url",
            "quarkus.datasource.username",
            "quarkus.datasource.password",
            "fleet.s3.endpoint",
            "fleet.s3.access-key",
            "fleet.s3.secret-key",
            "fleet.s3.bucket"),
        List.copyOf(config.keySet()));
    assertEquals(stack.kafkaBootstrapServers(), config.get("kafka.bootstrap.servers"));
    assertEquals(stack.jdbcUrl(), config.get("quarkus.datasource.jdbc.url"));
    assertEquals("fleet", config.get("quarkus.datasource.username"));
    assertEquals("fleet", config.get("quarkus.datasource.password"));
    assertEquals(stack.s3Endpoint(), config.get("fleet.s3.endpoint"));
    assertEquals("fleet", config.get("fleet.s3.access-key"));
    assertEquals("fleet-secret-key", config.get("fleet.s3.secret-key"));
    assertEquals("fleet-images", config.get("fleet.s3.bucket"));
    assertEquals(stack, SharedStack.endpoints());
  }
}
