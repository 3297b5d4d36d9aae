package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.fleet.gateway.webhooks.WebhookSigner;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Jobs' webhooks through the API and the real database: refused addresses answer 422 naming the
 * field; a terminal event reaches a receiver on 127.0.0.1 (admitted by the test profile's
 * allow-list), signed, and is retried until the receiver takes it.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WebhooksTest {
  static final String SECRET = "test-webhook-secret"; // %test.fleet.webhooks.secret

  @Inject ApiKeyStore keys;
  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;
  @Inject ObjectMapper json;

  /** One POST as the receiver saw it. */
  record Received(String eventId, String signature, String body) {}

  HttpServer receiver;
  final List<Received> received = new CopyOnWriteArrayList<>();
  final AtomicInteger failuresLeft = new AtomicInteger();

  @BeforeEach
  void setUp() throws Exception {
    TestKeys.useByDefault(keys, "hooks");
    receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    receiver.createContext(
        "/hook",
        exchange -> {
          String body =
              new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          received.add(
              new Received(
                  exchange.getRequestHeaders().getFirst(WebhookSigner.EVENT_ID_HEADER),
                  exchange.getRequestHeaders().getFirst(WebhookSigner.HEADER),
                  body));
          int status = failuresLeft.getAndDecrement() > 0 ? 503 : 204;
          exchange.sendResponseHeaders(status, -1);
          exchange.close();
        });
    receiver.start();
  }

  @AfterEach
  void tearDown() {
    receiver.stop(0);
    TestKeys.reset();
  }

  private String hook() {
    return "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
  }

  private String submit(String webhook) {
    return given()
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"hooked\",\"seed\":7,\"webhook\":\"" + webhook + "\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .extract()
        .path("id");
  }

  @Test
  void theTerminalEventIsSignedAndRetriedUntilTheReceiverTakesIt() throws Exception {
    failuresLeft.set(2);
    UUID id = UUID.fromString(submit(hook()));
    store.markRunning(id, "w", 1);
    store.progress(id, 1, 4);
    assertEquals(0, received.size(), "no event before the job ends");
    store.succeed(id, "hooks/" + id + ".png", 42);

    await().atMost(Duration.ofSeconds(30)).until(() -> received.size() >= 3);
    Received last = received.get(2);
    assertEquals(
        3,
        received.stream().map(Received::eventId).filter(last.eventId()::equals).count(),
        "the same event, delivered again after each 503");
    JsonNode event = json.readTree(last.body());
    assertEquals("job.succeeded", event.get("type").asText());
    assertEquals(id.toString(), event.get("jobId").asText());
    assertEquals("SUCCEEDED", event.get("state").asText());
    assertEquals(42, event.get("resultBytes").asLong());
    assertEquals("/v1/jobs/" + id, event.get("href").asText());

    // Verified as a receiver does: t within the replay window, HMAC over "t.body".
    String[] parts = last.signature().split(",");
    long t = Long.parseLong(parts[0].substring("t=".length()));
    assertTrue(Math.abs(Instant.now().getEpochSecond() - t) <= WebhookSigner.REPLAY_WINDOW_SECONDS);
    assertEquals("v1=" + hmac(t + "." + last.body()), parts[1]);

    await().atMost(Duration.ofSeconds(10)).until(() -> delivery(id).delivered());
    assertEquals(3, delivery(id).attempts());
    Thread.sleep(500);
    assertEquals(3, received.size(), "nothing more once delivered");
  }

  @Test
  void aCancelledJobsEventIsSentToo() throws Exception {
    String id = submit(hook());
    given().delete("/v1/jobs/" + id).then().statusCode(200);
    await().atMost(Duration.ofSeconds(30)).until(() -> !received.isEmpty());
    JsonNode event = json.readTree(received.getFirst().body());
    assertEquals("job.cancelled", event.get("type").asText());
    assertEquals(id, event.get("jobId").asText());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://192.168.0.10/hook",
        "http://203.0.113.5/hook",
        "not a url",
      })
  void refusedAddressesAnswer422NamingTheField(String webhook) {
    given()
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"hooked\",\"webhook\":\"" + webhook + "\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(422)
        .contentType("application/problem+json")
        .body("errors[0].field", equalTo("webhook"))
        .body("detail", containsString("webhook"));
  }

  @Test
  void aWebhookThatIsNotAStringIsA400() {
    given()
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"hooked\",\"webhook\":42}")
        .post("/v1/jobs")
        .then()
        .statusCode(400)
        .body("errors[0].field", equalTo("webhook"));
  }

  record Delivery(boolean delivered, int attempts) {}

  private Delivery delivery(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT delivered_at IS NOT NULL, attempts FROM webhook_deliveries WHERE job_id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next(), "one event row");
        Delivery d = new Delivery(rs.getBoolean(1), rs.getInt(2));
        assertTrue(!rs.next(), "only one event row");
        return d;
      }
    }
  }

  private static String hmac(String message) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    return HexFormat.of().formatHex(mac.doFinal(message.getBytes(StandardCharsets.UTF_8)));
  }
}
