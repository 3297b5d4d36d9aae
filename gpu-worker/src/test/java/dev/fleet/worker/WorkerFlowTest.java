package dev.fleet.worker;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import dev.fleet.testing.ImageAssert;
import io.minio.GetObjectArgs;
import io.minio.MinioClient;
import io.minio.StatObjectArgs;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.time.Duration;
import java.util.UUID;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The worker on real services: jobs written to the real job store, their messages sent to the real
 * Kafka topic, images read back from the real S3 bucket.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerFlowTest {
  static final String FOX = "a red fox sitting in the snow at dawn, highly detailed";

  @Inject DataSource dataSource;
  @Inject S3Config s3;

  @Inject WorkerConfig config;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String kafka;

  @ConfigProperty(name = UnprocessedRecordAge.PROPERTY)
  long unprocessedRecordMaxAgeMs;

  JobQueue queue;
  JobStore store;

  @BeforeEach
  void setUp() {
    queue = new JobQueue(dataSource, kafka, MemoryClass.VRAM_8G);
    store = queue.store;
  }

  @AfterEach
  void tearDown() {
    queue.close();
  }

  private MinioClient minio() {
    return MinioClient.builder()
        .endpoint(s3.endpoint())
        .credentials(s3.accessKey(), s3.secretKey())
        .build();
  }

  @Test
  void jobRunsToAnImageInTheBucketThatMatchesTheReference() throws Exception {
    JobMessage m = queue.submit(new GenerationSpec(FOX, 1234, 4, 128, 96, 3.5, "flux-tiny"));
    Job done = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    assertTrue(
        done.resultKey().matches("t1/" + m.jobId() + "/[0-9a-f-]{36}\\.png"), done.resultKey());
    assertEquals(4, done.step());
    assertEquals(4, done.steps());
    var stat =
        minio()
            .statObject(
                StatObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build());
    assertEquals("image/png", stat.contentType());
    assertEquals(done.resultBytes().longValue(), stat.size());
    byte[] png;
    try (InputStream in =
        minio()
            .getObject(
                GetObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build())) {
      png = in.readAllBytes();
    }
    // The reference's image: bit-identical on the CPU that made it, within ±1 on others.
    ImageAssert.assertPngClose(Fixtures.EXPECTED_PNG, png, "the bucket's image vs expected.png");
  }

  @Test
  void theConnectorLetsARecordWaitLongerThanTwoOfTheLongestJobs() {
    Duration age = Duration.ofMillis(unprocessedRecordMaxAgeMs);
    assertEquals(
        UnprocessedRecordAge.maxAge(
            config.jobTimeout(), config.retryPatience(), config.drainTimeout()),
        age);
    assertTrue(
        age.compareTo(config.jobTimeout().multipliedBy(2)) > 0,
        age + " against a job timeout of " + config.jobTimeout());
  }

  @Test
  void aDuplicateDeliveryNeitherRerunsNorRefinishesTheJob() {
    JobMessage m = queue.submit(new GenerationSpec("twice", 7, 2, 64, 64, 3.5, "flux-tiny"));
    Job first = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    queue.send(m.jobId(), m.toJson());
    // A marker job behind the duplicate: once it is done, the duplicate has been consumed.
    JobMessage marker = queue.submit(new GenerationSpec("marker", 8, 1, 32, 32, 3.5, "flux-tiny"));
    queue.awaitState(marker.jobId(), JobState.SUCCEEDED);
    Job after = store.find(m.jobId()).orElseThrow();
    assertEquals(JobState.SUCCEEDED, after.state());
    assertEquals(first.finishedAt(), after.finishedAt());
    assertEquals(first.version(), after.version());
  }

  @Test
  void aRunningJobStopsAtTheNextStepWhenCancelled() {
    JobMessage m =
        queue.submit(
            new GenerationSpec(
                "a long one", 3, GenerationSpec.MAX_STEPS, 256, 256, 3.5, "flux-tiny"));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> store.find(m.jobId()).orElseThrow().step() >= 1);
    store.requestCancel(m.jobId());
    Job cancelled = queue.awaitState(m.jobId(), JobState.CANCELLED);
    assertTrue(
        cancelled.step() < GenerationSpec.MAX_STEPS, "stopped early at step " + cancelled.step());
  }

  @Test
  void unreadableMessagesAndForeignModelsFailTheirJobAndTheWorkerGoesOn() {
    GenerationSpec spec = new GenerationSpec("bad", 1, 1, 32, 32, 3.5, "flux-tiny");
    UUID bad = UUID.randomUUID();
    store.insert(new NewJob(bad, "t1", null, null, spec, MemoryClass.VRAM_8G, 1L << 30));
    queue.send(bad, "{\"jobId\":\"" + bad + "\",\"steps\":\"not a number\"}");
    Job failed = queue.awaitState(bad, JobState.FAILED);
    assertEquals("BAD_MESSAGE", failed.errorCode());

    // Misrouted: the gateway sends flux-dev's jobs to vram-8g.flux-dev, never here.
    JobMessage foreign =
        queue.submitToWorker(new GenerationSpec("other model", 1, 1, 32, 32, 3.5, "flux-dev"));
    Job refused = queue.awaitState(foreign.jobId(), JobState.FAILED);
    assertEquals("MODEL_UNAVAILABLE", refused.errorCode());
    assertTrue(refused.errorMessage().contains("flux-dev"), refused.errorMessage());

    JobMessage fine =
        queue.submit(new GenerationSpec("after the bad ones", 2, 1, 32, 32, 3.5, "flux-tiny"));
    queue.awaitState(fine.jobId(), JobState.SUCCEEDED);
  }

  @Test
  void anotherModelsJobsGoToTheirOwnTopicAndNeverReachThisWorker() {
    JobMessage other =
        queue.submit(new GenerationSpec("for a flux-dev worker", 3, 1, 32, 32, 3.5, "flux-dev"));
    JobMessage mine =
        queue.submit(new GenerationSpec("for this worker", 4, 1, 32, 32, 3.5, "flux-tiny"));
    queue.awaitState(mine.jobId(), JobState.SUCCEEDED);
    // Sent before, on vram-8g.flux-dev: it waits there for a worker of its model, unrefused.
    Job waiting = store.find(other.jobId()).orElseThrow();
    assertEquals(JobState.QUEUED, waiting.state());
    assertEquals(1, waiting.attempts(), "no attempt spent");
  }
}
