package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.JobMessage;
import dev.fleet.stack.EmbeddedKafka;
import dev.fleet.stack.FleetStackTestResource;
import dev.fleet.stack.SharedStack;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A job acknowledged while Kafka is down still reaches Kafka: the gateway runs against a broker
 * address where nothing listens, takes a job (202), keeps its message in the outbox while the
 * relay's sends fail, and delivers it once a broker comes up at that address.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
@TestProfile(KafkaDownTest.BrokerAway.class)
class KafkaDownTest {
  @Inject ApiKeyStore keys;
  String apiKey;

  @BeforeEach
  void authenticate() {
    apiKey = TestKeys.useByDefault(keys, "default");
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  /** The shared stack, but Kafka at an address where nothing listens (yet). */
  public static class BrokerAway implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("fleet.outbox.delivery-timeout", "2s", "fleet.outbox.max-backoff", "1s");
    }

    @Override
    public List<TestResourceEntry> testResources() {
      return List.of(new TestResourceEntry(AwayResource.class));
    }

    // FleetStackTestResource's kafka.bootstrap.servers would win over a config override.
    @Override
    public boolean disableGlobalTestResources() {
      return true;
    }
  }

  public static class AwayResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
      Map<String, String> config = new HashMap<>(SharedStack.endpoints().asQuarkusConfig());
      config.put("kafka.bootstrap.servers", "localhost:" + freePort());
      return config;
    }

    @Override
    public void stop() {}
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Inject AgroalDataSource dataSource;
  @Inject ObjectMapper json;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String bootstrap;

  @Test
  void aJobAcceptedWhileKafkaIsDownIsDeliveredWhenItComesBack() throws Exception {
    int port = Integer.parseInt(bootstrap.substring(bootstrap.lastIndexOf(':') + 1));
    String id =
        given()
            .contentType(ContentType.JSON)
            .body("{\"prompt\":\"while kafka sleeps\"}")
            .post("/v1/jobs")
            .then()
            .statusCode(202)
            .extract()
            .path("id");
    UUID jobId = UUID.fromString(id);

    // The relay tried, failed, and kept the message.
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> outbox(jobId).attempts() >= 1);
    Row failed = outbox(jobId);
    assertNull(failed.sentAt());
    assertTrue(failed.lastError() != null && !failed.lastError().isBlank());
    given().get("/q/health/ready").then().statusCode(503);

    Path dir = Files.createTempDirectory("fleet-kafka-late-");
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir, port)) {
      var record =
          KafkaRecords.find(
                  kafka.bootstrapServers(), "vram-8g.flux-tiny", jobId, Duration.ofSeconds(60))
              .orElseThrow(() -> new AssertionError("the job never reached Kafka"));
      assertEquals(jobId, json.readValue(record.value(), JobMessage.class).jobId());
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> outbox(jobId).sentAt() != null);
    }
  }

  record Row(Object sentAt, int attempts, String lastError) {}

  private Row outbox(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT sent_at, attempts, last_error FROM outbox WHERE message_key = ?")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new Row(rs.getObject(1), rs.getInt(2), rs.getString(3));
      }
    }
  }
}
