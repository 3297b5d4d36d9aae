package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class SubmitJobTest {
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

  @TestHTTPResource("/v1/jobs")
  URI jobs;

  private static final String FOX =
      "{\"prompt\":\"a red fox sitting in the snow at dawn, highly detailed\",\"seed\":1234,"
          + "\"steps\":4,\"width\":128,\"height\":96,\"guidance\":3.5}";

  static ValidatableResponse submit(String body) {
    return given().contentType(ContentType.JSON).body(body).when().post("/v1/jobs").then();
  }

  @Test
  void submitThenGet() {
    String id =
        submit(FOX)
            .statusCode(202)
            .contentType(ContentType.JSON)
            .header("Location", containsString("/v1/jobs/"))
            .body("status", equalTo("QUEUED"))
            .body("spec.seed", equalTo(1234))
            .body("spec.model", equalTo("flux-tiny"))
            .body("progress.step", equalTo(0))
            .body("progress.steps", equalTo(4))
            .body("attempts", equalTo(1))
            .body("queuePosition", greaterThanOrEqualTo(1))
            .body("plan.memoryClass", equalTo("vram-8g"))
            .body("plan.predictedPeakBytes", greaterThanOrEqualTo(1))
            .body("result", nullValue())
            .body("error", nullValue())
            .extract()
            .path("id");

    given()
        .get("/v1/jobs/" + id)
        .then()
        .statusCode(200)
        .body("id", equalTo(id))
        .body("status", equalTo("QUEUED"))
        .body("spec.prompt", containsString("red fox"))
        .body("createdAt", notNullValue())
        .body("links.events", equalTo("/v1/jobs/" + id + "/events"));
  }

  /** A NewBie job keeps its guidance fields; a FLUX job shows none. */
  @Test
  void aNewbieJobCarriesItsNegativePromptAndTruncation() {
    String id =
        submit(
                "{\"prompt\":\"<character_1>a girl</character_1>\",\"model\":\"newbie\","
                    + "\"width\":512,\"height\":512,\"negativePrompt\":\"blurry\","
                    + "\"cfgTruncation\":0.25}")
            .statusCode(202)
            .body("spec.model", equalTo("newbie"))
            .body("spec.steps", equalTo(28))
            .body("spec.guidance", equalTo(5.0f))
            .body("spec.negativePrompt", equalTo("blurry"))
            .body("spec.cfgTruncation", equalTo(0.25f))
            .extract()
            .path("id");
    given()
        .get("/v1/jobs/" + id)
        .then()
        .statusCode(200)
        .body("spec.negativePrompt", equalTo("blurry"))
        .body("spec.cfgTruncation", equalTo(0.25f));
    submit(FOX)
        .statusCode(202)
        .body("spec", not(hasKey("negativePrompt")))
        .body("spec", not(hasKey("cfgTruncation")));
  }

  @Test
  void absentFieldsTakeTheModelDefaultsAndTheSeedIsChosenAndRecorded() {
    var first = submit("{\"prompt\":\"a fox\"}").statusCode(202).extract();
    assertEquals(4, (int) first.path("spec.steps"));
    assertEquals(128, (int) first.path("spec.width"));
    assertEquals(96, (int) first.path("spec.height"));
    assertEquals(3.5f, (float) first.path("spec.guidance"));
    long seed = ((Number) first.path("spec.seed")).longValue();
    long other =
        ((Number)
                submit("{\"prompt\":\"a fox\",\"seed\":-1}")
                    .statusCode(202)
                    .extract()
                    .path("spec.seed"))
            .longValue();
    assertNotEquals(seed, other, "two random seeds in a row (1 in 2^32 to collide)");
    given()
        .get("/v1/jobs/" + first.path("id"))
        .then()
        .body("spec.seed", equalTo(first.path("spec.seed")));
  }

  @Test
  void theSameIdempotencyKeyGivesOneJob() {
    String key = UUID.randomUUID().toString();
    String body = "{\"prompt\":\"idempotent fox\"}";
    String id =
        given()
            .contentType(ContentType.JSON)
            .header("Idempotency-Key", key)
            .body(body)
            .post("/v1/jobs")
            .then()
            .statusCode(202)
            .header("Idempotent-Replayed", nullValue())
            .extract()
            .path("id");
    given()
        .contentType(ContentType.JSON)
        .header("Idempotency-Key", key)
        .body(body)
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .header("Idempotent-Replayed", "true")
        .body("id", equalTo(id));
    // Another tenant has its own keys.
    given()
        .contentType(ContentType.JSON)
        .header("Idempotency-Key", key)
        .header("Authorization", "Bearer " + TestKeys.create(keys, "other"))
        .body(body)
        .post("/v1/jobs")
        .then()
        .statusCode(202)
        .body("id", not(equalTo(id)));
    // The same key with another request is refused, naming the header.
    given()
        .contentType(ContentType.JSON)
        .header("Idempotency-Key", key)
        .body("{\"prompt\":\"a different fox\"}")
        .post("/v1/jobs")
        .then()
        .statusCode(422)
        .contentType("application/problem+json")
        .body("errors.field", hasItem("Idempotency-Key"));
  }

  static Stream<Arguments> badRequests() {
    return Stream.of(
        Arguments.of("missing prompt", "{\"steps\":4}", 422, "prompt"),
        Arguments.of("width 100", "{\"prompt\":\"x\",\"width\":100}", 422, "width"),
        Arguments.of("steps 0", "{\"prompt\":\"x\",\"steps\":0}", 422, "steps"),
        Arguments.of("steps 10000", "{\"prompt\":\"x\",\"steps\":10000}", 422, "steps"),
        Arguments.of(
            "steps over the model's limit", "{\"prompt\":\"x\",\"steps\":120}", 422, "steps"),
        Arguments.of("unknown model", "{\"prompt\":\"x\",\"model\":\"sdxl\"}", 422, "model"),
        Arguments.of("50 kB prompt", "{\"prompt\":\"" + "x".repeat(50_000) + "\"}", 422, "prompt"),
        Arguments.of(
            "16384x16384", "{\"prompt\":\"x\",\"width\":16384,\"height\":16384}", 422, "height"),
        Arguments.of("seed out of range", "{\"prompt\":\"x\",\"seed\":4294967296}", 422, "seed"),
        Arguments.of("guidance negative", "{\"prompt\":\"x\",\"guidance\":-1}", 422, "guidance"),
        Arguments.of("string for a number", "{\"prompt\":\"x\",\"steps\":\"four\"}", 400, "steps"),
        Arguments.of("numeric string", "{\"prompt\":\"x\",\"width\":\"128\"}", 400, "width"),
        Arguments.of("fraction for an integer", "{\"prompt\":\"x\",\"steps\":4.5}", 400, "steps"),
        Arguments.of("number for a string", "{\"prompt\":42}", 400, "prompt"),
        Arguments.of("huge number", "{\"prompt\":\"x\",\"width\":1e999}", 400, "width"),
        Arguments.of("unknown field", "{\"prompt\":\"x\",\"stpes\":4}", 400, "stpes"),
        Arguments.of(
            "too large for every GPU",
            "{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":4096,\"height\":4096}",
            422,
            "width"),
        Arguments.of(
            "outside the model's sizes",
            "{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":128}",
            422,
            "width"),
        Arguments.of(
            "negative prompt for FLUX",
            "{\"prompt\":\"x\",\"negativePrompt\":\"y\"}",
            422,
            "negativePrompt"),
        Arguments.of(
            "cfg truncation for FLUX",
            "{\"prompt\":\"x\",\"cfgTruncation\":0.5}",
            422,
            "cfgTruncation"),
        Arguments.of(
            "cfg truncation above 1",
            "{\"prompt\":\"x\",\"model\":\"newbie\",\"width\":512,\"height\":512,"
                + "\"cfgTruncation\":2}",
            422,
            "cfgTruncation"),
        Arguments.of(
            "negative prompt not a string",
            "{\"prompt\":\"x\",\"negativePrompt\":1}",
            400,
            "negativePrompt"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void everyBadFieldIsA4xxProblemNamingIt(String what, String body, int status, String field) {
    submit(body)
        .statusCode(status)
        .contentType("application/problem+json")
        .body("status", equalTo(status))
        .body("type", notNullValue())
        .body("title", notNullValue())
        .body("errors.field", hasItem(field))
        .body("detail", not(containsString("Exception")))
        .body("detail", not(containsString("com.fasterxml")));
  }

  static Stream<Arguments> unreadableRequests() {
    return Stream.of(
        Arguments.of("malformed JSON", "application/json", "{\"prompt\": \"x\",", 400),
        Arguments.of("not an object", "application/json", "[1,2]", 400),
        Arguments.of("empty body", "application/json", "", 400),
        Arguments.of("wrong content type", "text/plain", "{\"prompt\":\"x\"}", 415),
        Arguments.of("form content type", "application/x-www-form-urlencoded", "prompt=x", 415));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unreadableRequests")
  void unreadableBodiesAre4xxProblems(String what, String type, String body, int status) {
    given()
        .contentType(type)
        .body(body)
        .post("/v1/jobs")
        .then()
        .statusCode(status)
        .contentType("application/problem+json")
        .body("status", equalTo(status))
        .body("detail", not(containsString("Exception")));
  }

  @Test
  void aBodyWithoutContentTypeIsReadAsJsonAndAWrongMethodIsAProblem() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest noType =
        HttpRequest.newBuilder(jobs)
            .header("Authorization", "Bearer " + apiKey)
            .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\"}"))
            .build();
    HttpResponse<String> r = http.send(noType, HttpResponse.BodyHandlers.ofString());
    assertEquals(202, r.statusCode(), r.body());
    HttpRequest formNoType =
        HttpRequest.newBuilder(jobs)
            .header("Authorization", "Bearer " + apiKey)
            .POST(HttpRequest.BodyPublishers.ofString("prompt=x"))
            .build();
    r = http.send(formNoType, HttpResponse.BodyHandlers.ofString());
    assertEquals(400, r.statusCode(), r.body());
    assertEquals("application/problem+json", r.headers().firstValue("Content-Type").orElseThrow());
    given()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/jobs")
        .then()
        .statusCode(405)
        .contentType("application/problem+json");
    given().get("/v1/nothing-here").then().statusCode(404);
  }

  /**
   * Routing and refusal through the API, with the planner's numbers for the engine as it is
   * (DJL_EAGER): 2048² needs more than the 8 GiB class even fully streamed, 4096² more than any
   * class. MemoryAdmissionTest checks the numbers in the refusal for sizes the API cannot take.
   */
  @Test
  void theMemoryRouteGrowsWithTheImageAndTheRefusalNamesTheLimit() {
    submit("{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":1024,\"height\":1024}")
        .statusCode(202)
        .body("plan.memoryClass", equalTo("vram-8g"))
        .body("plan.predictedPeakBytes", greaterThanOrEqualTo(1L << 30));
    submit("{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":2048,\"height\":2048}")
        .statusCode(202)
        .body("plan.memoryClass", equalTo("vram-12g"));
    submit("{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":4096,\"height\":4096}")
        .statusCode(422)
        .body("type", equalTo("urn:fleet:problem:too-large-for-gpus"))
        .body("detail", containsString("4096x4096 needs "))
        .body("detail", containsString("the largest class vram-16g has 16.0 GiB"))
        .body("errors.field", hasItem("width"));
  }

  @Test
  void unknownJobsAre404Problems() {
    for (String path :
        List.of(
            "/v1/jobs/" + UUID.randomUUID(),
            "/v1/jobs/not-a-uuid",
            "/v1/jobs/" + UUID.randomUUID() + "/image",
            "/v1/jobs/" + UUID.randomUUID() + "/events")) {
      given()
          .get(path)
          .then()
          .statusCode(404)
          .contentType("application/problem+json")
          .body("status", equalTo(404));
    }
    given()
        .delete("/v1/jobs/" + UUID.randomUUID())
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
  }

  @Test
  void cancellingAQueuedJobIsImmediate() {
    String id = submit("{\"prompt\":\"cancel me\"}").statusCode(202).extract().path("id");
    given()
        .delete("/v1/jobs/" + id)
        .then()
        .statusCode(200)
        .body("status", equalTo("CANCELLED"))
        .body("finishedAt", notNullValue());
    given()
        .get("/v1/jobs/" + id)
        .then()
        .body("status", equalTo("CANCELLED"))
        .body("queuePosition", nullValue());
    given().delete("/v1/jobs/" + id).then().statusCode(200).body("status", equalTo("CANCELLED"));
    given()
        .get("/v1/jobs/" + id + "/image")
        .then()
        .statusCode(409)
        .contentType("application/problem+json");
  }

  @Test
  void listingFiltersByStatusAndPagesWithACursor() {
    String tenant = "list-" + UUID.randomUUID().toString().substring(0, 8);
    String key = "Bearer " + TestKeys.create(keys, tenant);
    for (int i = 0; i < 5; i++) {
      given()
          .contentType(ContentType.JSON)
          .header("Authorization", key)
          .body("{\"prompt\":\"fox " + i + "\"}")
          .post("/v1/jobs")
          .then()
          .statusCode(202);
    }
    String cancelled =
        given()
            .header("Authorization", key)
            .get("/v1/jobs?limit=1")
            .then()
            .statusCode(200)
            .extract()
            .path("jobs[0].id");
    given().header("Authorization", key).delete("/v1/jobs/" + cancelled).then().statusCode(200);

    var page1 =
        given()
            .header("Authorization", key)
            .get("/v1/jobs?limit=2")
            .then()
            .statusCode(200)
            .body("jobs", hasSize(2))
            .body("nextCursor", notNullValue())
            .extract();
    assertEquals("fox 4", page1.path("jobs[0].spec.prompt"));
    var page2 =
        given()
            .header("Authorization", key)
            .queryParam("cursor", (String) page1.path("nextCursor"))
            .get("/v1/jobs?limit=2")
            .then()
            .statusCode(200)
            .body("jobs", hasSize(2))
            .extract();
    assertEquals("fox 2", page2.path("jobs[0].spec.prompt"));
    given()
        .header("Authorization", key)
        .queryParam("cursor", (String) page2.path("nextCursor"))
        .get("/v1/jobs?limit=2")
        .then()
        .statusCode(200)
        .body("jobs", hasSize(1))
        .body("nextCursor", nullValue());

    given()
        .header("Authorization", key)
        .get("/v1/jobs?status=queued")
        .then()
        .statusCode(200)
        .body("jobs", hasSize(4))
        .body("jobs.status", everyItem(equalTo("QUEUED")));
    given()
        .header("Authorization", key)
        .get("/v1/jobs?status=CANCELLED,SUCCEEDED")
        .then()
        .statusCode(200)
        .body("jobs", hasSize(1))
        .body("jobs[0].id", equalTo(cancelled));

    for (String bad :
        List.of("status=DONE", "limit=0", "limit=abc", "limit=1000", "cursor=bogus")) {
      given()
          .get("/v1/jobs?" + bad)
          .then()
          .statusCode(400)
          .contentType("application/problem+json")
          .body("errors.field", hasItem(bad.substring(0, bad.indexOf('='))));
    }
  }

  @Test
  void openApiHealthAndMetricsAreServed() {
    given().get("/q/openapi?format=json").then().statusCode(200).body("paths", hasKey("/v1/jobs"));
    given()
        .get("/q/health/ready")
        .then()
        .statusCode(200)
        .body("status", equalTo("UP"))
        .body("checks.name", hasItem("S3 bucket"))
        .body("checks.name", hasItem("Kafka"));
    submit(FOX).statusCode(202);
    given()
        .get("/q/metrics")
        .then()
        .statusCode(200)
        .body(containsString("fleet_jobs{"))
        .body(containsString("fleet_jobs_submit_seconds_count"))
        .body(containsString("fleet_outbox_backlog"));
  }

  @Test
  void manyConcurrentSubmissionsAllSucceed() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      Callable<Integer> one =
          () -> submit("{\"prompt\":\"a crowd of foxes\"}").extract().statusCode();
      var results = pool.invokeAll(Collections.nCopies(20, one));
      for (var r : results) {
        assertEquals(202, r.get());
      }
    } finally {
      pool.shutdown();
    }
  }
}
