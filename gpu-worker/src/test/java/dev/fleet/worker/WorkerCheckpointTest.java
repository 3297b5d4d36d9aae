package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.FluxPipeline;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.PlannedPipeline;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.synthetic.DitVariant;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.memory.StorageType;
import dev.fleet.stack.FleetStackTestResource;
import dev.fleet.testing.ImageAssert;
import io.minio.GetObjectArgs;
import io.minio.MinioClient;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker serving the bundled model with a downloaded DiT, as majicflus is run beside FLUX.1-dev:
 * {@code fleet.worker.dit} names a ComfyUI scaled-fp8 file (prefixed keys, {@code scale_weight}s)
 * outside the model directory by its absolute path. Its jobs give the image of the file's plain
 * float32 equivalent. It serves vram-16g, so that its topic and consumer group are its own.
 */
@QuarkusTest
@TestProfile(WorkerCheckpointTest.DownloadedDit.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerCheckpointTest {
  static final MemoryClass CLASS = MemoryClass.VRAM_16G;

  /**
   * Where the profile writes the scaled-fp8 DiT and its plain equivalent: a fixed folder, since
   * Quarkus loads the profile and the test in different class loaders.
   */
  static final Path DOWNLOADS = Path.of("target", "worker-checkpoint-test").toAbsolutePath();

  static final Path SCALED = DOWNLOADS.resolve("flux-tiny-fp8-scaled.safetensors");
  static final Path PLAIN = DOWNLOADS.resolve("flux-tiny-fp8-scaled-plain-f32.safetensors");

  public static class DownloadedDit implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      try {
        Files.createDirectories(DOWNLOADS);
        Path transformer = Fixtures.MODEL.resolve("transformer");
        try (TensorStore fixture = TensorStore.open(transformer.resolve("flux.safetensors"))) {
          DitVariant.SCALED_FP8.write(fixture, SCALED, PLAIN);
        }
        // The fixture's head dimension is not FLUX.1's: its config travels with the file.
        Files.copy(
            transformer.resolve("config.json"),
            DOWNLOADS.resolve("config.json"),
            StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return Map.of(
          "fleet.worker.dit",
          SCALED.toAbsolutePath().toString(),
          "fleet.worker.memory-class",
          CLASS.className());
    }
  }

  @Inject DataSource dataSource;
  @Inject S3Config s3;
  @Inject ModelRuntime model;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String kafka;

  JobQueue queue;

  @BeforeEach
  void setUp() {
    queue = new JobQueue(dataSource, kafka, CLASS);
  }

  @AfterEach
  void tearDown() {
    queue.close();
  }

  @Test
  void aScaledFp8DitGivenByAbsolutePathServesJobsWithItsEquivalentsImage() throws Exception {
    assertEquals(
        SCALED.toAbsolutePath(), ((PlannedPipeline) model.pipeline()).model().transformer());
    assertEquals(StorageType.FP8, model.admission().ditStorage());
    GenerationSpec spec = new GenerationSpec("a fox", 11, 2, 64, 48, 3.5, "flux-tiny");
    JobMessage m = queue.submit(spec);
    Job done = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    byte[] png;
    MinioClient minio =
        MinioClient.builder()
            .endpoint(s3.endpoint())
            .credentials(s3.accessKey(), s3.secretKey())
            .build();
    try (InputStream in =
        minio.getObject(
            GetObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build())) {
      png = in.readAllBytes();
    }
    byte[] expected;
    try (FluxPipeline plain =
        FluxPipeline.load(
            ModelDirectory.resolve(Fixtures.MODEL, PLAIN.toAbsolutePath().toString()),
            ComputeTarget.cpu())) {
      expected = plain.generate(spec, GenerationListener.NONE).png();
    }
    ImageAssert.assertPngClose(expected, png, "worker on scaled fp8 vs its plain equivalent");
  }
}
