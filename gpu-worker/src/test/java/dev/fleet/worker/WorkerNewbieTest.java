package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.cli.EngineMain;
import dev.fleet.engine.nextdit.NewbieLoraFiles;
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
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 * job store and Kafka gives the fixture's expected.png; a job with a LoRA from the worker's LoRA
 * directory gives the CLI's {@code generate --lora} image.
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
    byte[] png = run(fixtureJob(List.of()));
    ImageAssert.assertClose(
        ImageAssert.readPng(FIXTURE.resolve("expected.png")),
        ImageAssert.readPng(png),
        "the worker's NewBie job vs the reference's expected.png");
  }

  /**
   * A NewBie job naming a LoRA of the worker's LoRA directory (ComfyUI layout, every linear layer
   * of the Next-DiT): the image differs from the no-LoRA one and is the CLI's {@code generate
   * --lora} image of the same job (±1 per channel).
   */
  @Test
  void aNewbieJobWithALoraGivesTheClisLoraImage(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Files.createDirectories(model.loras().dir());
    Path file =
        NewbieLoraFiles.comfy(81, 0.1f)
            .write(model.loras().dir().resolve("newbie-style.safetensors"));
    GenerationSpec spec = fixtureJob(List.of(new LoraRef("newbie-style", 0.8)));
    byte[] png = run(spec);

    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    Path cliPng = tmp.resolve("cli.png");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new EngineMain(
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))
            .run(
                "generate",
                "--model",
                FIXTURE.toString(),
                "--prompt",
                spec.prompt(),
                "--negative-prompt",
                spec.negativePrompt(),
                "--seed",
                Long.toString(spec.seed()),
                "--width",
                Integer.toString(spec.width()),
                "--height",
                Integer.toString(spec.height()),
                "--steps",
                Integer.toString(spec.steps()),
                "--guidance",
                c.get("cfg_scale").asText(),
                "--cfg-truncation",
                c.get("cfg_trunc").asText(),
                "--lora",
                file + ":0.8",
                "--out",
                cliPng.toString());
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    ImageAssert.Difference vsCli =
        ImageAssert.compare(
            ImageAssert.readPng(Files.readAllBytes(cliPng)), ImageAssert.readPng(png));
    ImageAssert.Difference vsNone =
        ImageAssert.compare(
            ImageAssert.readPng(FIXTURE.resolve("expected.png")), ImageAssert.readPng(png));
    System.out.println("worker newbie job with a lora vs the CLI's: " + vsCli);
    System.out.println("worker newbie job with a lora vs no lora: " + vsNone);
    assertTrue(vsCli.closeEnough(), "the worker's NewBie LoRA image vs the CLI's: " + vsCli);
    assertTrue(
        vsNone.identicalPixels() < 0.5 * vsNone.pixels(), "the LoRA changes the image: " + vsNone);
    String text = new String(png, StandardCharsets.ISO_8859_1);
    assertTrue(text.contains("loras\0newbie-style:0.8"), "the loras text chunk");
  }

  /** The fixture's job (case.json) with {@code loras}. */
  private static GenerationSpec fixtureJob(List<LoraRef> loras) throws Exception {
    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    return new GenerationSpec(
        c.get("prompt").asText(),
        c.get("seed").asLong(),
        c.get("steps").asInt(),
        c.get("width").asInt(),
        c.get("height").asInt(),
        c.get("cfg_scale").asDouble(),
        "newbie-tiny",
        loras,
        c.get("negative_prompt").asText(),
        c.get("cfg_trunc").asDouble());
  }

  /** Submits {@code spec}, waits for it to succeed and returns the bucket's image. */
  private byte[] run(GenerationSpec spec) throws Exception {
    JobMessage m = queue.submit(spec);
    Job done = queue.awaitState(m.jobId(), JobState.SUCCEEDED);
    assertEquals(spec, done.spec());
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
}
