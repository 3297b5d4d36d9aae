package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.emptyString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code GET /v1/jobs/{id}}: ETag, If-None-Match → 304, Cache-Control. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class ConditionalGetTest {
  private static final String TENANT = "conditional-get";

  @Inject ApiKeyStore keys;
  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;

  @BeforeEach
  void authenticate() {
    TestKeys.useByDefault(keys, TENANT);
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  private static Response get(UUID id, String ifNoneMatch) {
    var request = given();
    if (ifNoneMatch != null) {
      request.header("If-None-Match", ifNoneMatch);
    }
    return request.get("/v1/jobs/" + id);
  }

  @Test
  void aPollerGets304UntilTheJobChanges() {
    Job job = TestJobs.queued(store, TENANT, 4);
    Response first = get(job.id(), null);
    first.then().statusCode(200).header("Cache-Control", equalTo("no-cache, private"));
    String etag = first.header("ETag");
    Number position = first.path("queuePosition");
    assertEquals("\"v0-q" + position + "\"", etag);

    get(job.id(), etag)
        .then()
        .statusCode(304)
        .header("ETag", equalTo(etag))
        .header("Cache-Control", equalTo("no-cache, private"))
        .body(emptyString());
    get(job.id(), "\"v9-q1\", " + etag).then().statusCode(304);
    get(job.id(), "*").then().statusCode(304);
    get(job.id(), "\"v9-q1\"").then().statusCode(200).body("id", equalTo(job.id().toString()));

    assertEquals(JobStore.CancelOutcome.CANCELLED, store.requestCancel(job.id()));
    Response changed = get(job.id(), etag);
    changed.then().statusCode(200).body("status", equalTo("CANCELLED"));
    assertEquals("\"v1\"", changed.header("ETag"), "a new version, and no position");
  }

  @Test
  void theETagMovesWithTheQueuePosition() {
    Job ahead = TestJobs.queued(store, TENANT, 4);
    Job job = TestJobs.queued(store, TENANT, 4);
    TestJobs.takeJobsAhead(store, dataSource, ahead);
    String etag = get(job.id(), null).then().statusCode(200).extract().header("ETag");
    assertEquals("\"v0-q2\"", etag);

    assertTrue(store.markRunning(ahead.id(), "w", 1), "the job ahead starts: this one moves up");
    Response moved = get(job.id(), etag);
    moved.then().statusCode(200).body("queuePosition", equalTo(1));
    assertNotEquals(etag, moved.header("ETag"));
  }

  @Test
  void aSucceededJobIsNotStoredAndHasNoETag() {
    Job job = TestJobs.queued(store, TENANT, 4);
    assertTrue(store.markRunning(job.id(), "w", 1));
    assertTrue(store.succeed(job.id(), "conditional-get/" + job.id() + ".png", 10));
    get(job.id(), "*")
        .then()
        .statusCode(200)
        .header("ETag", nullValue())
        .header("Cache-Control", equalTo("no-store, private"))
        .body("status", equalTo("SUCCEEDED"));
  }

  @Test
  void anotherTenantsJobIsNotFoundWhateverTheETag() {
    Job job = TestJobs.queued(store, "someone-else", 4);
    get(job.id(), "*").then().statusCode(404);
  }
}
