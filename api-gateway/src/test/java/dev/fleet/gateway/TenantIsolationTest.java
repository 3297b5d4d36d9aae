package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.gateway.notify.PgNotifications;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** API keys: who may call, and that a tenant sees and changes only its own jobs. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class TenantIsolationTest {
  @Inject ApiKeyStore keys;
  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;
  @Inject PgNotifications notifications;

  @TestHTTPResource("/v1/jobs/")
  URI jobs;

  String alice;
  String bob;
  String aliceKey;
  String bobKey;

  @BeforeEach
  void twoTenants() {
    TestKeys.reset();
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    alice = "alice-" + suffix;
    bob = "bob-" + suffix;
    aliceKey = TestKeys.create(keys, alice);
    bobKey = TestKeys.create(keys, bob);
  }

  private static RequestSpecification as(String key) {
    return given().header("Authorization", "Bearer " + key);
  }

  private String submit(String key, String prompt) {
    return as(key)
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"" + prompt + "\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .extract()
        .path("id");
  }

  @Test
  void withoutAValidKeyEveryApiCallIs401ProblemDetails() {
    String id = submit(aliceKey, "a secret fox");
    String unknown = "fk_aaaaaaaaaaaa_" + "A".repeat(43);
    List<String> headers =
        List.of(
            "",
            "Bearer " + unknown,
            "Bearer not-a-key",
            "Bearer ",
            "Basic YWxpY2U6c2VjcmV0",
            "bearer" + aliceKey,
            "Bearer " + aliceKey.substring(0, aliceKey.length() - 1) + "x");
    for (String header : headers) {
      for (String[] call :
          new String[][] {
            {"GET", "/v1/jobs"},
            {"GET", "/v1/jobs/" + id},
            {"GET", "/v1/jobs/" + id + "/events"},
            {"GET", "/v1/jobs/" + id + "/image"},
            {"DELETE", "/v1/jobs/" + id},
            {"POST", "/v1/jobs"},
            {"GET", "/v1/models"},
            {"GET", "/v1/admin/keys"}
          }) {
        RequestSpecification r = given().contentType(ContentType.JSON).body("{\"prompt\":\"x\"}");
        if (!header.isEmpty()) {
          r.header("Authorization", header);
        }
        r.request(call[0], call[1])
            .then()
            .statusCode(401)
            .contentType("application/problem+json")
            .header("WWW-Authenticate", containsString("Bearer"))
            .body("status", equalTo(401))
            .body("type", equalTo("urn:fleet:problem:unauthorized"))
            .body("detail", not(containsString("Exception")));
      }
    }
    assertEquals(JobState.QUEUED, store.find(UUID.fromString(id)).orElseThrow().state());
    // The console, health and the API document need no key.
    given().get("/").then().statusCode(200);
    given().get("/q/health/ready").then().statusCode(200);
    given().get("/q/openapi").then().statusCode(200);
  }

  @Test
  void anotherTenantsJobIsNotFoundWhateverTheCall() throws Exception {
    String id = submit(aliceKey, "alice's fox");
    String missing = UUID.randomUUID().toString();

    for (String path : List.of("", "/image")) {
      String theirs =
          as(bobKey)
              .get("/v1/jobs/" + id + path)
              .then()
              .statusCode(404)
              .contentType("application/problem+json")
              .body("type", equalTo("urn:fleet:problem:job-not-found"))
              .body(not(containsString("alice")))
              .extract()
              .path("detail");
      String none =
          as(bobKey)
              .get("/v1/jobs/" + missing + path)
              .then()
              .statusCode(404)
              .extract()
              .path("detail");
      // The same answer as for a job that does not exist: nothing tells that it does.
      assertEquals(none.replace(missing, id), theirs);
    }
    as(bobKey)
        .header("Accept", "text/event-stream")
        .get("/v1/jobs/" + id + "/events")
        .then()
        .statusCode(404);
    as(bobKey).delete("/v1/jobs/" + id).then().statusCode(404);
    Job after = store.find(UUID.fromString(id)).orElseThrow();
    assertEquals(JobState.QUEUED, after.state());
    assertFalse(after.cancelRequested(), "bob's DELETE changed nothing");

    // Lists show only one's own.
    submit(bobKey, "bob's fox");
    as(bobKey)
        .get("/v1/jobs?limit=200")
        .then()
        .statusCode(200)
        .body("jobs.id", not(hasItem(id)))
        .body("jobs.spec.prompt", everyItem(equalTo("bob's fox")));
    as(bobKey)
        .get("/v1/jobs?status=QUEUED,RUNNING,SUCCEEDED,FAILED,CANCELLED,TIMED_OUT")
        .then()
        .body("jobs.id", not(hasItem(id)));
    as(aliceKey).get("/v1/jobs").then().statusCode(200).body("jobs.id", equalTo(List.of(id)));

    // The same Idempotency-Key in two tenants: two jobs, neither sees the other's.
    String k = "shared-" + UUID.randomUUID();
    String a =
        as(aliceKey)
            .contentType(ContentType.JSON)
            .header("Idempotency-Key", k)
            .body("{\"prompt\":\"same\"}")
            .post("/v1/jobs")
            .then()
            .statusCode(202)
            .extract()
            .path("id");
    as(bobKey)
        .contentType(ContentType.JSON)
        .header("Idempotency-Key", k)
        .body("{\"prompt\":\"same\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .header("Idempotent-Replayed", nullValue())
        .body("id", not(equalTo(a)));

    // A finished job: alice gets its image, bob still nothing; the stream too.
    UUID uuid = UUID.fromString(id);
    store.markRunning(uuid, "w", 1);
    store.succeed(uuid, "isolation/" + id + ".png", 100);
    as(aliceKey).redirects().follow(false).get("/v1/jobs/" + id + "/image").then().statusCode(303);
    as(bobKey).redirects().follow(false).get("/v1/jobs/" + id + "/image").then().statusCode(404);
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> theirs =
        http.send(events(id, bobKey), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, theirs.statusCode());
    assertFalse(theirs.body().contains("alice's fox"), theirs.body());
    HttpResponse<String> own =
        http.send(events(id, aliceKey), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, own.statusCode());
    assertTrue(own.body().contains("SUCCEEDED"), own.body());
  }

  private HttpRequest events(String id, String key) {
    return HttpRequest.newBuilder(jobs.resolve(id + "/events"))
        .header("Accept", "text/event-stream")
        .header("Authorization", "Bearer " + key)
        .build();
  }

  @Test
  void aRevokedKeyStopsWorkingAndOnlyItsHashIsStored() throws Exception {
    ApiKeyStore.Created created = keys.create(alice, false, "to revoke");
    String key = created.secret();
    as(key).get("/v1/jobs").then().statusCode(200);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT id, tenant, name, salt, hash FROM api_keys WHERE id = ?")) {
      ps.setString(1, created.key().id());
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        String secretPart = key.substring(key.lastIndexOf('_') + 1);
        for (int col = 1; col <= 5; col++) {
          byte[] v = rs.getBytes(col);
          assertFalse(
              new String(v, StandardCharsets.ISO_8859_1).contains(secretPart),
              "column " + col + " holds the key");
        }
        assertEquals(32, rs.getBytes("hash").length);
      }
    }
    assertEquals(ApiKeyStore.RevokeOutcome.REVOKED, keys.revoke(created.key().id()));
    as(key).get("/v1/jobs").then().statusCode(401).contentType("application/problem+json");
    assertEquals(ApiKeyStore.RevokeOutcome.ALREADY_REVOKED, keys.revoke(created.key().id()));
  }

  /**
   * A checked key is served from the gateway's cache (its stored hash spoilt behind the gateway's
   * back does not matter any more), and a revocation made by another process (plain SQL, as {@code
   * ./fleet keys revoke} does) reaches the gateway through PostgreSQL's notification and stops the
   * key within moments.
   */
  @Test
  void aKeyRevokedByAnotherProcessStopsWorkingAtOnce() throws Exception {
    ApiKeyStore.Created created = keys.create(alice, false, "revoked elsewhere");
    String key = created.secret();
    as(aliceKey).get("/v1/jobs").then().statusCode(200); // the identity provider is up
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (!notifications.listening("api_key_revocations") && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(notifications.listening("api_key_revocations"), "revocations not listened to");
    as(key).get("/v1/jobs").then().statusCode(200);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("UPDATE api_keys SET hash = sha256(hash) WHERE id = ?")) {
      ps.setString(1, created.key().id());
      assertEquals(1, ps.executeUpdate());
    }
    as(key).get("/v1/jobs").then().statusCode(200);
    long t0 = System.nanoTime();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("UPDATE api_keys SET revoked_at = now() WHERE id = ?")) {
      ps.setString(1, created.key().id());
      assertEquals(1, ps.executeUpdate());
    }
    int status = as(key).get("/v1/jobs").statusCode();
    while (status != 401 && System.nanoTime() - t0 < 2_000_000_000L) {
      Thread.sleep(5);
      status = as(key).get("/v1/jobs").statusCode();
    }
    assertEquals(401, status, "revoked elsewhere, still accepted after 2 s");
    System.out.printf(
        "TenantIsolationTest: a revocation by plain SQL refused the key after %.1f ms%n",
        (System.nanoTime() - t0) / 1e6);
  }

  @Test
  void adminKeysManageKeysAndOthersAreForbidden() {
    as(aliceKey)
        .get("/v1/admin/keys")
        .then()
        .statusCode(403)
        .contentType("application/problem+json")
        .body("status", equalTo(403));
    as(aliceKey)
        .contentType(ContentType.JSON)
        .body("{\"tenant\":\"" + alice + "\",\"admin\":true}")
        .post("/v1/admin/keys")
        .then()
        .statusCode(403);
    String admin = keys.create("ops", true, "admin").secret();

    var created =
        as(admin)
            .contentType(ContentType.JSON)
            .body("{\"tenant\":\"carol\",\"name\":\"carol's laptop\"}")
            .post("/v1/admin/keys")
            .then()
            .statusCode(201)
            .body("tenant", equalTo("carol"))
            .body("admin", equalTo(false))
            .extract();
    String carolKey = created.path("key");
    String carolId = created.path("id");
    assertTrue(carolKey.startsWith("fk_" + carolId + "_"), carolKey);
    String carolJob = submit(carolKey, "carol's fox");
    as(aliceKey).get("/v1/jobs/" + carolJob).then().statusCode(404);

    as(admin)
        .get("/v1/admin/keys?tenant=carol")
        .then()
        .statusCode(200)
        .body("keys.id", hasItem(carolId))
        .body(not(containsString(carolKey.substring(carolKey.lastIndexOf('_') + 1))))
        .body("keys[0].key", nullValue());
    // An admin key reads its own tenant's jobs only, like any other.
    as(admin).get("/v1/jobs/" + carolJob).then().statusCode(404);

    as(admin)
        .delete("/v1/admin/keys/" + carolId)
        .then()
        .statusCode(200)
        .body("id", equalTo(carolId));
    as(carolKey).get("/v1/jobs/" + carolJob).then().statusCode(401);
    as(admin)
        .delete("/v1/admin/keys/nosuchkey000")
        .then()
        .statusCode(404)
        .contentType("application/problem+json");

    for (String bad :
        List.of(
            "{}",
            "{\"tenant\":\"\"}",
            "{\"tenant\":\"../etc\"}",
            "{\"tenant\":7}",
            "{\"tenant\":\"x\",\"admin\":\"yes\"}",
            "{\"tenant\":\"x\",\"role\":\"root\"}",
            "[1]",
            "{")) {
      int status =
          as(admin)
              .contentType(ContentType.JSON)
              .body(bad)
              .post("/v1/admin/keys")
              .then()
              .contentType("application/problem+json")
              .extract()
              .statusCode();
      assertTrue(status == 400 || status == 422, bad + " -> " + status);
    }
  }
}
