package dev.fleet.worker;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.smallrye.reactive.messaging.ChannelRegistry;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Graceful drain on the real worker: its own application (a profile), because the drain pauses its
 * Kafka channel for good. A job longer than the drain deadline is handed back with the same
 * attempt, and the connector hands over no further record. (The drain on SIGTERM, with the
 * connector's commit as it closes, is {@code WorkerSigtermIT} in api-gateway, on the packaged
 * worker.)
 */
@QuarkusTest
@TestProfile(WorkerDrainTest.OwnClass.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerDrainTest {
  static final MemoryClass CLASS = MemoryClass.VRAM_16G;

  public static class OwnClass implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("fleet.worker.memory-class", CLASS.className());
    }
  }

  @Inject DataSource dataSource;
  @Inject JobConsumer consumer;
  @Inject @Readiness WorkerReadiness readiness;
  @Inject ChannelRegistry channels;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String kafka;

  JobQueue queue;
  JobStore store;

  @BeforeEach
  void setUp() {
    queue = new JobQueue(dataSource, kafka, CLASS);
    store = queue.store;
  }

  @AfterEach
  void tearDown() {
    queue.close();
  }

  @Test
  void aJobLongerThanTheDeadlineIsHandedBackWithItsAttemptAndNoNewJobIsTaken() {
    assertEquals(HealthCheckResponse.Status.UP, readiness.call().getStatus());
    JobMessage running =
        queue.submit(
            new GenerationSpec(
                "a long one", 5, GenerationSpec.MAX_STEPS, 256, 256, 3.5, "flux-tiny"));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> store.find(running.jobId()).orElseThrow().step() >= 1);
    JobMessage waiting =
        queue.submit(new GenerationSpec("the next one", 6, 2, 64, 64, 3.5, "flux-tiny"));

    Thread drain = new Thread(() -> consumer.drain(Duration.ofMillis(300)), "test-drain");
    drain.start();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> readiness.call().getStatus() == HealthCheckResponse.Status.DOWN);
    try {
      drain.join(Duration.ofSeconds(40));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertFalse(drain.isAlive(), "the drain ends within its deadline and margin");

    Job back = store.find(running.jobId()).orElseThrow();
    assertEquals(JobState.QUEUED, back.state());
    assertEquals(1, back.attempts(), "handed back without spending an attempt");
    assertNull(back.worker());
    assertFalse(consumer.running(), "the consumer takes no job");
    assertTrue(channels.getPausable(JobConsumer.CHANNEL).isPaused(), "the channel is paused");
    assertEquals(HealthCheckResponse.Status.DOWN, readiness.call().getStatus());

    Job next = store.find(waiting.jobId()).orElseThrow();
    assertEquals(JobState.QUEUED, next.state(), "no new job taken while draining");
    assertNull(next.startedAt());
    assertTrue(back.step() == 0);
  }
}
