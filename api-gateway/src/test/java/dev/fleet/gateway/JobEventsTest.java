package dev.fleet.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.events.JobEventHub;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The SSE stream of a job, with a simulated worker calling the JobStore transitions. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class JobEventsTest {
  @Inject ApiKeyStore keys;
  String apiKey;

  @BeforeEach
  void authenticate() {
    apiKey = TestKeys.useByDefault(keys, "sse");
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  @Inject JobStore store;
  @Inject JobEventHub hub;
  @Inject ObjectMapper json;

  @TestHTTPResource("/v1/jobs/")
  URI jobs;

  record Event(String name, JsonNode data) {
    /**
     * {@code name:status:step}; a status event carries the whole job, a progress event its step.
     */
    String summary() {
      JsonNode step =
          name.equals("status") ? data.path("progress").path("step") : data.path("step");
      return name + ":" + data.path("status").asText() + ":" + step.asInt();
    }
  }

  /**
   * Reads the stream in the background into {@code events}; completes when the server closes it.
   */
  private CompletableFuture<Void> follow(Job job, List<Event> events) {
    HttpRequest request =
        HttpRequest.newBuilder(jobs.resolve(job.id() + "/events"))
            .header("Accept", "text/event-stream")
            .header("Authorization", "Bearer " + apiKey)
            .build();
    return HttpClient.newHttpClient()
        .sendAsync(request, HttpResponse.BodyHandlers.ofLines())
        .thenAccept(
            response -> {
              assertEquals(200, response.statusCode());
              String[] name = {null};
              try (Stream<String> lines = response.body()) {
                lines.forEach(
                    line -> {
                      if (line.startsWith("event:")) {
                        name[0] = line.substring(6).trim();
                      } else if (line.startsWith("data:")) {
                        try {
                          events.add(new Event(name[0], json.readTree(line.substring(5).trim())));
                        } catch (Exception e) {
                          throw new AssertionError(line, e);
                        }
                      }
                    });
              }
            });
  }

  @Test
  void theStreamShowsEveryStatusAndStepThenEnds() throws Exception {
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(hub::listening);
    Job job = TestJobs.queued(store, "sse", 4);
    List<Event> events = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> stream = follow(job, events);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
    assertEquals("status", events.get(0).name());
    assertEquals("QUEUED", events.get(0).data().path("status").asText());

    store.markRunning(job.id(), "worker-1", 1);
    for (int step = 1; step <= 4; step++) {
      store.progress(job.id(), step, 4);
    }
    store.succeed(job.id(), "sse/" + job.id() + ".png", 100);
    stream.get(15, TimeUnit.SECONDS); // the server ends the stream after the terminal state

    List<String> seen = events.stream().map(Event::summary).toList();
    assertEquals(
        List.of(
            "status:QUEUED:0",
            "status:RUNNING:0",
            "progress:RUNNING:1",
            "progress:RUNNING:2",
            "progress:RUNNING:3",
            "progress:RUNNING:4",
            "status:SUCCEEDED:4"),
        seen);
    JsonNode last = events.getLast().data();
    assertTrue(
        last.path("result").path("url").asText().contains(job.id().toString()), last.toString());
  }

  @Test
  void aCancelledJobEndsItsStream() throws Exception {
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(hub::listening);
    Job job = TestJobs.queued(store, "sse", 4);
    List<Event> events = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> stream = follow(job, events);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
    store.markRunning(job.id(), "worker-1", 1);
    store.requestCancel(job.id());
    store.cancel(job.id());
    stream.get(15, TimeUnit.SECONDS);
    assertEquals("CANCELLED", events.getLast().data().path("status").asText());
    assertTrue(events.getLast().data().path("cancelRequested").asBoolean());
  }

  @Test
  void aFinishedJobsStreamIsItsLastStatus() throws Exception {
    Job job = TestJobs.queued(store, "sse", 4);
    store.requestCancel(job.id());
    List<Event> events = new CopyOnWriteArrayList<>();
    follow(job, events).get(10, TimeUnit.SECONDS);
    assertEquals(1, events.size());
    assertEquals("CANCELLED", events.get(0).data().path("status").asText());
  }
}
