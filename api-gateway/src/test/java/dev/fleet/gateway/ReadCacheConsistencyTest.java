package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.gateway.events.JobEventHub;
import dev.fleet.gateway.reads.JobReads;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Status reads from memory (fleet.jobs.read-cache-enabled) answer what the database answers: a
 * random sequence of store operations, as workers and users make them, with reads in between; after
 * each change's notification has been delivered, every job read through the cache equals {@link
 * JobStore#findWithPosition(UUID, String)}.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
@TestProfile(ReadCacheConsistencyTest.ReadCacheOn.class)
class ReadCacheConsistencyTest {
  private static final String TENANT = "read-cache-test";

  public static class ReadCacheOn implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("fleet.jobs.read-cache-enabled", "true");
    }
  }

  @Inject JobStore store;
  @Inject JobReads reads;
  @Inject JobEventHub hub;
  @Inject ApiKeyStore keys;

  private final Map<UUID, AtomicLong> delivered = new HashMap<>();
  private final List<Runnable> unsubscribe = new ArrayList<>();

  @BeforeEach
  void listening() {
    TestKeys.useByDefault(keys, TENANT);
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(hub::listening);
  }

  @AfterEach
  void unsubscribe() {
    unsubscribe.forEach(Runnable::run);
    TestKeys.reset();
  }

  /** Follows the job's notifications: the cache has handled one before its subscribers get it. */
  private UUID follow(UUID id) {
    AtomicLong version = new AtomicLong(-1);
    delivered.put(id, version);
    unsubscribe.add(hub.subscribe(id, c -> version.accumulateAndGet(c.version(), Math::max)));
    return id;
  }

  private void awaitDelivered(UUID id) {
    long now = store.find(id).orElseThrow().version();
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> delivered.get(id).get() >= now);
  }

  private Job insert() {
    NewJob job = TestJobs.newJob(TENANT);
    follow(job.id());
    return store.insert(job).job();
  }

  @Test
  void aRandomHistoryReadsTheSameFromMemoryAsFromTheDatabase() {
    Random random = new Random(16);
    List<UUID> jobs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      jobs.add(insert().id());
    }
    int compared = 0;
    for (int op = 0; op < 300; op++) {
      UUID id = jobs.get(random.nextInt(jobs.size()));
      Job job = store.find(id).orElseThrow();
      reads.find(id, TENANT); // a read racing the change's notification, filling the cache
      switch (random.nextInt(7)) {
        case 0 -> {
          id = insert().id();
          jobs.add(id);
        }
        case 1 -> store.markRunning(id, "w", job.attempts());
        case 2 -> {
          if (job.state() == JobState.RUNNING && job.step() < job.steps()) {
            store.progress(id, job.step() + 1, job.steps());
          }
        }
        case 3 -> store.succeed(id, "read-cache/" + id + ".png", 10);
        case 4 -> store.requestCancel(id);
        case 5 -> store.requeue(id, job.attempts(), "a transient fault");
        default -> store.handBack(id, job.attempts());
      }
      reads.find(id, TENANT);
      awaitDelivered(id);
      for (UUID each : jobs) {
        assertEquals(
            store.findWithPosition(each, TENANT),
            reads.find(each, TENANT),
            "job " + each + " after operation " + op);
        assertTrue(reads.find(each, "someone-else").isEmpty(), "another tenant's job");
        compared++;
      }
    }
    assertTrue(compared > 1000, "compared " + compared);
    long queued =
        jobs.stream().filter(j -> store.find(j).orElseThrow().state() == JobState.QUEUED).count();
    long finished =
        jobs.stream().filter(j -> store.find(j).orElseThrow().state().terminal()).count();
    assertTrue(queued > 0 && finished > 0, "the history queued and finished jobs");
  }

  @Test
  void theApiReadsItsOwnCancellationAndKeepsItsConditionalGets() {
    Job job = insert();
    String etag =
        given()
            .get("/v1/jobs/" + job.id())
            .then()
            .statusCode(200)
            .body("status", equalTo("QUEUED"))
            .extract()
            .header("ETag");
    given().header("If-None-Match", etag).get("/v1/jobs/" + job.id()).then().statusCode(304);
    given().delete("/v1/jobs/" + job.id()).then().statusCode(200);
    // No waiting for the notification: the gateway dropped its own change.
    given()
        .header("If-None-Match", etag)
        .get("/v1/jobs/" + job.id())
        .then()
        .statusCode(200)
        .body("status", equalTo("CANCELLED"));
  }
}
