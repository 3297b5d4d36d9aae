package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.pipeline.GenerationCancelledException;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.minio.GetObjectArgs;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import javax.imageio.ImageIO;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Two runs of one job on the real job store, S3 bucket and model: the run that lost its lease — its
 * worker went silent, the reaper re-queued the job, another worker finished attempt 2 — cannot
 * finish the job too. Its success is refused and its object removed: one SUCCEEDED state and one
 * image. Runners are driven directly, on a class whose topic no consumer of this application reads.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class LeaseLossTest {
  static final MemoryClass CLASS = MemoryClass.VRAM_16G;
  static final GenerationSpec SPEC = new GenerationSpec("late", 5, 2, 64, 64, 3.5, "flux-tiny");

  @Inject DataSource dataSource;
  @Inject ModelRuntime model;
  @Inject S3ImageSink s3Sink;
  @Inject S3Config s3;

  private JobRunner runner(JobStore store, LeaseKeeper leases, ImageSink sink, String worker) {
    return runner(store, leases, sink, model::generate, worker);
  }

  private JobRunner runner(
      JobStore store,
      LeaseKeeper leases,
      ImageSink sink,
      JobRunner.Generator generator,
      String worker) {
    return new JobRunner(
        store,
        leases,
        Duration.ofSeconds(5),
        sink,
        generator,
        model::refusal,
        worker,
        "flux-tiny",
        Duration.ofMinutes(1),
        Duration.ZERO,
        () -> false,
        Clock.systemUTC());
  }

  private UUID insert(JobStore store) {
    UUID id = UUID.randomUUID();
    store.insert(new NewJob(id, "t1", null, null, SPEC, CLASS, 1L << 30));
    return id;
  }

  @Test
  void theLateFinisherLosesItsResultIsDiscardedAndItsObjectRemoved() throws Exception {
    JobStore store = new JobStore(dataSource);
    UUID id = insert(store);
    AtomicReference<Outcome> winner = new AtomicReference<>();
    // Heartbeats an hour apart: worker A is silent while it runs.
    try (LeaseKeeper silent = new LeaseKeeper(store, Duration.ofHours(1));
        LeaseKeeper leases = new LeaseKeeper(store, Duration.ofSeconds(10))) {
      JobRunner b = runner(store, leases, s3Sink, "worker-b");
      ImageSink slowA =
          new ImageSink() {
            @Override
            public void put(String key, byte[] png) throws Exception {
              s3Sink.put(key, png);
              // A has stored its image but not yet its state: meanwhile its lease expires, the
              // reaper re-queues the job and worker B runs attempt 2 to the end.
              age(id);
              assertEquals(1, store.requeueExpired(Duration.ofMinutes(30), 100).requeued());
              winner.set(b.run(JobMessage.of(id, "t1", SPEC, CLASS, 2)));
            }

            @Override
            public void delete(String key) throws Exception {
              s3Sink.delete(key);
            }
          };
      Outcome late = runner(store, silent, slowA, "worker-a").run(message(id, 1));

      assertEquals(Outcome.SUCCEEDED, winner.get());
      assertEquals(Outcome.DISCARDED, late);
    }
    Job done = store.find(id).orElseThrow();
    assertEquals(JobState.SUCCEEDED, done.state());
    assertEquals(2, done.attempts());
    assertEquals("worker-b", done.worker());
    assertTrue(done.resultKey().startsWith("t1/" + id + "/"), done.resultKey());
    assertEquals(List.of(done.resultKey()), objects("t1/" + id + "/"), "one image, B's");
    try (InputStream in =
        minio()
            .getObject(
                GetObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build())) {
      BufferedImage image = ImageIO.read(in);
      assertNotNull(image, "a readable PNG");
      assertEquals(64, image.getWidth());
    }
  }

  @Test
  void aRunWhoseLeaseIsTakenStopsAtItsNextStepAndStoresNothing() throws Exception {
    JobStore store = new JobStore(dataSource);
    UUID id = insert(store);
    ImageSink nothing =
        (key, png) -> {
          throw new AssertionError("a run without its lease uploads nothing");
        };
    JobRunner.Generator steps =
        (spec, listener) -> {
          // Another worker starts the same attempt (Kafka gave it the message again).
          assertTrue(store.markRunning(id, "worker-b", 1));
          int step = 0;
          while (!listener.cancelled()) {
            listener.onStep(Math.min(++step, 1000), 1000);
            sleep(20);
          }
          throw new GenerationCancelledException(step);
        };
    try (LeaseKeeper leases = new LeaseKeeper(store, Duration.ofMillis(50))) {
      assertEquals(
          Outcome.DISCARDED, runner(store, leases, nothing, steps, "worker-a").run(message(id, 1)));
    }
    Job job = store.find(id).orElseThrow();
    assertEquals(JobState.RUNNING, job.state(), "still worker B's");
    assertEquals("worker-b", job.worker());
    assertEquals(List.of(), objects("t1/" + id + "/"));
  }

  private static JobMessage message(UUID id, int attempt) {
    return JobMessage.of(id, "t1", SPEC, CLASS, attempt);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The job's last heartbeat an hour ago. */
  private void age(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE job_heartbeats SET beat_at = now() - interval '1 hour' WHERE job_id = ?")) {
      ps.setObject(1, id);
      assertEquals(1, ps.executeUpdate());
    }
  }

  private MinioClient minio() {
    return MinioClient.builder()
        .endpoint(s3.endpoint())
        .credentials(s3.accessKey(), s3.secretKey())
        .build();
  }

  private List<String> objects(String prefix) throws Exception {
    List<String> keys = new ArrayList<>();
    for (Result<Item> r :
        minio()
            .listObjects(
                ListObjectsArgs.builder()
                    .bucket(s3.bucket())
                    .prefix(prefix)
                    .recursive(true)
                    .build())) {
      keys.add(r.get().objectName());
    }
    return keys;
  }
}
