package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The limits of application.properties' test profile: tenant {@code limited} submits 1 job per
 * second in bursts of 3, tenant {@code capped} has at most 2 jobs queued or running; bodies over 64
 * KiB are refused.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class LimitsTest {
  @Inject ApiKeyStore keys;
  @Inject JobStore store;

  @TestHTTPResource("/v1/jobs")
  URI jobs;

  private static io.restassured.response.ValidatableResponse submit(String key, String body) {
    return given()
        .header("Authorization", "Bearer " + key)
        .contentType(ContentType.JSON)
        .body(body)
        .post("/v1/jobs")
        .then();
  }

  @Test
  void aKeyOverItsRateGets429WithRetryAfterAndAnotherKeyDoesNot() throws Exception {
    String key = TestKeys.create(keys, "limited");
    for (int i = 0; i < 3; i++) {
      submit(key, "{\"prompt\":\"burst " + i + "\"}").statusCode(202);
    }
    String retryAfter =
        submit(key, "{\"prompt\":\"one too many\"}")
            .statusCode(429)
            .contentType("application/problem+json")
            .body("type", equalTo("urn:fleet:problem:rate-limited"))
            .body("status", equalTo(429))
            .body("detail", containsString("per second"))
            .extract()
            .header("Retry-After");
    int seconds = Integer.parseInt(retryAfter);
    assertTrue(seconds >= 1 && seconds <= 2, retryAfter);
    // The rate is per key: another key of the same tenant has its own bucket.
    submit(TestKeys.create(keys, "limited"), "{\"prompt\":\"other key\"}").statusCode(202);
    // After Retry-After, the key submits again.
    Thread.sleep(seconds * 1000L + 100);
    submit(key, "{\"prompt\":\"later\"}").statusCode(202);
  }

  @Test
  void aTenantAtItsActiveJobCapGets429UntilOneFinishes() {
    String key = TestKeys.create(keys, "capped");
    String first = submit(key, "{\"prompt\":\"one\"}").statusCode(202).extract().path("id");
    submit(key, "{\"prompt\":\"two\"}").statusCode(202);
    submit(key, "{\"prompt\":\"three\"}")
        .statusCode(429)
        .contentType("application/problem+json")
        .header("Retry-After", equalTo("10"))
        .body("type", equalTo("urn:fleet:problem:too-many-active-jobs"))
        .body("detail", containsString("at most 2"));
    // A replay of an accepted job's Idempotency-Key is no new job: still answered.
    String idem = "cap-" + UUID.randomUUID();
    given()
        .header("Authorization", "Bearer " + key)
        .header("Idempotency-Key", idem)
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"three\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(429);
    given()
        .header("Authorization", "Bearer " + key)
        .delete("/v1/jobs/" + first)
        .then()
        .statusCode(200);
    given()
        .header("Authorization", "Bearer " + key)
        .header("Idempotency-Key", idem)
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"three\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(202);
    given()
        .header("Authorization", "Bearer " + key)
        .header("Idempotency-Key", idem)
        .contentType(ContentType.JSON)
        .body("{\"prompt\":\"three\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .header("Idempotent-Replayed", "true");
    assertEquals(2, store.countActive("capped"));
  }

  @Test
  void aBodyOverTheCapIs413ProblemDetailsWithOrWithoutALength() throws Exception {
    String key = TestKeys.create(keys, "bodies");
    String big = "{\"prompt\":\"" + "x".repeat(300_000) + "\"}";
    submit(key, big)
        .statusCode(413)
        .contentType("application/problem+json")
        .body("type", equalTo("urn:fleet:problem:body-too-large"))
        .body("status", equalTo(413))
        .body("detail", containsString("at most 65536"));
    // Without a Content-Length (chunked), the same answer.
    byte[] bytes = big.getBytes(StandardCharsets.UTF_8);
    HttpRequest chunked =
        HttpRequest.newBuilder(jobs)
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofInputStream(
                    () -> (InputStream) new ByteArrayInputStream(bytes)))
            .build();
    HttpResponse<String> r =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .build()
            .send(chunked, HttpResponse.BodyHandlers.ofString());
    assertEquals(413, r.statusCode(), r.body());
    assertTrue(r.body().contains("body-too-large"), r.body());
    // Just under the cap: read, and the prompt's own rule answers.
    submit(key, "{\"prompt\":\"" + "x".repeat(60_000) + "\"}")
        .statusCode(422)
        .body("errors[0].field", equalTo("prompt"))
        .body("errors[0].message", containsString("at most 2000"));
  }
}
