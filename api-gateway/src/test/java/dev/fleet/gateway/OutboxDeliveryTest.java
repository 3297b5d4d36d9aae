package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.awaitility.Awaitility;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Jobs reach their memory class's topic through the outbox, keyed by job id. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class OutboxDeliveryTest {
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

  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;
  @Inject ObjectMapper json;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String bootstrap;

  @Test
  void aSubmittedJobReachesItsTopic() throws Exception {
    String id =
        given()
            .contentType(ContentType.JSON)
            .body("{\"prompt\":\"to kafka\",\"seed\":7}")
            .post("/v1/jobs")
            .then()
            .statusCode(202)
            .extract()
            .path("id");
    ConsumerRecord<String, String> record =
        KafkaRecords.find(
                bootstrap, "vram-8g.flux-tiny", UUID.fromString(id), Duration.ofSeconds(30))
            .orElseThrow();
    JobMessage message = json.readValue(record.value(), JobMessage.class);
    assertEquals(UUID.fromString(id), message.jobId());
    assertEquals(7, message.seed());
    assertEquals("to kafka", message.prompt());
    assertEquals("vram-8g", message.memoryClass());
    assertEquals(1, message.attempt());
    assertEquals("default", message.tenant());
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> sentAt(UUID.fromString(id)) != null);
  }

  /**
   * The crash window: the job and its message are committed, then the gateway that wrote them dies
   * before sending anything. Here a row written straight through JobStore (no submission, no nudge
   * of the relay) stands for that: the relay finds it and delivers it.
   */
  @Test
  void aMessageWrittenButNeverSentIsDeliveredByTheRelay() throws Exception {
    Job job = TestJobs.queued(store, "crash-window", 4);
    ConsumerRecord<String, String> record =
        KafkaRecords.find(bootstrap, "vram-8g.flux-tiny", job.id(), Duration.ofSeconds(30))
            .orElseThrow();
    assertEquals(job.message(), json.readValue(record.value(), JobMessage.class));
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sentAt(job.id()) != null);
  }

  @Test
  void aRequeuedJobIsPublishedAgainWithTheNextAttempt() throws Exception {
    Job job = TestJobs.queued(store, "requeue", 4);
    store.markRunning(job.id(), "w", 1);
    store.requeue(job.id(), 1, "transient");
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> unsent(job.id()) == 0);
    // Both attempts are on the topic, in order.
    var records =
        KafkaRecords.all(bootstrap, "vram-8g.flux-tiny", job.id(), 2, Duration.ofSeconds(30));
    assertEquals(2, records.size());
    assertEquals(1, json.readValue(records.get(0).value(), JobMessage.class).attempt());
    assertEquals(2, json.readValue(records.get(1).value(), JobMessage.class).attempt());
  }

  private Object sentAt(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT max(sent_at) FROM outbox WHERE message_key = ?")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getObject(1);
      }
    }
  }

  private long unsent(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM outbox WHERE message_key = ? AND sent_at IS NULL")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
