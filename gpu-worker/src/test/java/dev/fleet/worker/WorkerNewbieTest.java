package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobMessage;
import dev.fleet.model.job.JobState;
import dev.fleet.model.job.MemoryClass;
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
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker serving a NewBie-image model directory (the newbie-tiny fixture): the family is found
 * from the directory, and a job whose negative prompt and guidance truncation travel through the
 * job store and Kafka gives the fixture's expected.png.
 */
@QuarkusTest
@TestProfile(WorkerNewbieTest.NewbieModel.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerNewbieTest {
  static final MemoryClass CLASS = MemoryClass.VRAM_16G;
  static final Path FIXTURE = Path.of("src/test/resources/fixtures/newbie-tiny");

  public static class NewbieModel implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of(
          "fleet.worker.model-dir", FIXTURE.toString(),
          "fleet.worker.model-name", "newbie-tiny",
          "fleet.worker.memory-class", CLASS.className());
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
  void aNewbieJobGivesTheFixturesImage() throws Exception {
    assertEquals("classifier-free guidance", model.pipeline().defaults().kind());
    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    GenerationSpec spec =
        new GenerationSpec(
            c.get("prompt").asText(),
            c.get("seed").asLong(),
            c.get("steps").asInt(),
            c.get("width").asInt(),
            c.get("height").asInt(),
            c.get("cfg_scale").asDouble(),
            "newbie-tiny",
            List.of(),
            c.get("negative_prompt").asText(),
            c.get("cfg_trunc").asDouble());
    JobMessage m = queue.submit(spec);
    Job done = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    assertEquals(spec, done.spec());
    MinioClient minio =
        MinioClient.builder()
            .endpoint(s3.endpoint())
            .credentials(s3.accessKey(), s3.secretKey())
            .build();
    byte[] png;
    try (InputStream in =
        minio.getObject(
            GetObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build())) {
      png = in.readAllBytes();
    }
    ImageAssert.assertClose(
        ImageAssert.readPng(FIXTURE.resolve("expected.png")),
        ImageAssert.readPng(png),
        "the worker's NewBie job vs the reference's expected.png");
  }
}
