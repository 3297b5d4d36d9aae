package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.lora.AppliedLora;
import dev.fleet.engine.lora.LoraFiles;
import dev.fleet.engine.lora.LoraReader;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.pipeline.FluxPipeline;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.LoraRef;
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
import jakarta.inject.Inject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Jobs with LoRAs through the worker on real services: the LoRA named in the job is read from the
 * worker's LoRA directory, and the bucket's image is the engine's own run with that LoRA.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerLoraTest {
  @Inject DataSource dataSource;
  @Inject S3Config s3;
  @Inject ModelRuntime model;

  @ConfigProperty(name = "kafka.bootstrap.servers")
  String kafka;

  JobQueue queue;

  @BeforeEach
  void setUp() throws Exception {
    queue = new JobQueue(dataSource, kafka, MemoryClass.VRAM_8G);
    Files.createDirectories(model.loras().dir());
  }

  @AfterEach
  void tearDown() {
    queue.close();
  }

  private byte[] image(Job done) throws Exception {
    MinioClient minio =
        MinioClient.builder()
            .endpoint(s3.endpoint())
            .credentials(s3.accessKey(), s3.secretKey())
            .build();
    try (InputStream in =
        minio.getObject(
            GetObjectArgs.builder().bucket(s3.bucket()).object(done.resultKey()).build())) {
      return in.readAllBytes();
    }
  }

  @Test
  void aJobWithALoraMakesTheEnginesLoraImage() throws Exception {
    Path file = LoraFiles.kohya(11, 0.1f).write(model.loras().dir().resolve("style.safetensors"));
    GenerationSpec spec =
        new GenerationSpec(
            WorkerFlowTest.FOX,
            1234,
            4,
            128,
            96,
            3.5,
            "flux-tiny",
            List.of(new LoraRef("style", 0.7)));
    JobMessage m = queue.submit(spec);
    Job done = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    assertEquals(spec.loras(), done.spec().loras());
    byte[] png = image(done);

    byte[] engine;
    try (FluxPipeline p =
        FluxPipeline.load(ModelDirectory.resolve(Fixtures.MODEL, null), ComputeTarget.cpu())) {
      LoraStack stack = LoraStack.of(new AppliedLora(LoraReader.read(file, "style"), 0.7));
      engine = p.generate(spec, null, new GenerationListener() {}, stack).png();
    }
    ImageAssert.assertPngClose(engine, png, "the worker's LoRA image vs the engine's");

    var noLora =
        ImageAssert.compare(ImageAssert.readPng(Fixtures.EXPECTED_PNG), ImageAssert.readPng(png));
    assertTrue(
        noLora.identicalPixels() < 0.5 * noLora.pixels(), "the LoRA changes the image: " + noLora);

    String text = new String(png, StandardCharsets.ISO_8859_1);
    assertTrue(text.contains("<lora:style:0.7>"), "the parameters carry the LoRA tag");
    assertTrue(text.contains("loras\0style:0.7"), "the loras text chunk");

    // The next job with that LoRA takes it from the worker's cache: the file is not read again.
    long reads = model.loras().cache().reads();
    JobMessage again =
        queue.submit(
            new GenerationSpec(
                "again", 2, 1, 32, 32, 3.5, "flux-tiny", List.of(new LoraRef("style", -0.5))));
    queue.awaitState(again.jobId(), JobState.SUCCEEDED);
    assertEquals(reads, model.loras().cache().reads(), "LoRA files read");
  }

  @Test
  void aJobWhoseLoraIsMissingOrUnreadableFailsWithItsCode() throws Exception {
    JobMessage missing =
        queue.submit(
            new GenerationSpec(
                "gone", 1, 1, 32, 32, 3.5, "flux-tiny", List.of(new LoraRef("vanished", 1))));
    Job failed = queue.awaitState(missing.jobId(), JobState.FAILED);
    assertEquals(JobRunner.LORA_UNAVAILABLE, failed.errorCode());
    assertTrue(failed.errorMessage().contains("vanished"), failed.errorMessage());

    Files.write(
        model.loras().dir().resolve("garbage.safetensors"),
        "not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
    JobMessage garbage =
        queue.submit(
            new GenerationSpec(
                "garbage", 1, 1, 32, 32, 3.5, "flux-tiny", List.of(new LoraRef("garbage", 1))));
    Job bad = queue.awaitState(garbage.jobId(), JobState.FAILED);
    assertEquals(JobRunner.LORA_UNAVAILABLE, bad.errorCode());

    JobMessage fine =
        queue.submit(new GenerationSpec("after the bad ones", 2, 1, 32, 32, 3.5, "flux-tiny"));
    queue.awaitState(fine.jobId(), JobState.SUCCEEDED);
  }
}
