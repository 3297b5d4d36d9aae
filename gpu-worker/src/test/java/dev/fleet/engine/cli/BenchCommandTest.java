package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark on CPU with the tiny preset: real steps under the planner's plan, as JSON. */
class BenchCommandTest {

  private static String[] run(int expectedCode, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new EngineMain(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))
            .run(args);
    String o = out.toString(StandardCharsets.UTF_8);
    String e = err.toString(StandardCharsets.UTF_8);
    assertEquals(expectedCode, code, "stdout: " + o + "\nstderr: " + e);
    return new String[] {o, e};
  }

  @Test
  void runsStepsUnderThePlanAndReportsWhatItMeasured() throws Exception {
    String[] r =
        run(
            0,
            "bench",
            "--synthetic",
            "tiny",
            "--budget",
            "2GiB",
            "--width",
            "64",
            "--height",
            "48",
            "--steps",
            "2");
    JsonNode json = new ObjectMapper().readTree(r[0]);
    assertEquals("tiny", json.get("model").asText());
    assertEquals("all-resident", json.get("plan").asText());
    assertEquals(2, json.get("secondsPerStepAll").size());
    assertTrue(json.get("secondsPerStep").asDouble() > 0);
    assertEquals(0, json.get("streamedBytesPerStep").asLong());
    long usable = json.get("budgetBytes").asLong() - json.get("reserveBytes").asLong();
    long booked = json.get("bookedPeakBytes").asLong();
    assertTrue(booked > 0 && booked <= usable, "booked " + booked + " of " + usable);
    assertEquals(-1, json.get("measuredPeakDeviceBytes").asLong(), "no nvidia-smi reading on CPU");
    assertTrue(r[1].contains("plan all-resident"), r[1]);
  }

  @Test
  void wholeJobsAreTimedPerPhaseOnAWrittenModel(@TempDir Path dir) throws Exception {
    String before = System.getProperty("fleet.default.model");
    System.setProperty("fleet.default.model", Fixtures.SHAPES_MODEL.toAbsolutePath().toString());
    try {
      Path model = dir.resolve("model");
      String[] args = {
        "bench",
        "--synthetic",
        "tiny",
        "--budget",
        "2GiB",
        "--jobs",
        "2",
        "--steps",
        "3",
        "--width",
        "64",
        "--height",
        "48",
        "--model-dir",
        model.toString()
      };
      // What an interrupted earlier write left behind is not taken for a model.
      Path leftover = dir.resolve("model.partial").resolve("transformer");
      Files.createDirectories(leftover);
      Files.writeString(leftover.resolve("flux.safetensors"), "cut short");
      String[] r = run(0, args);
      assertTrue(r[1].contains("wrote tiny"), r[1]);
      assertFalse(Files.exists(dir.resolve("model.partial")), "the partial write is gone");
      JsonNode json = new ObjectMapper().readTree(r[0]);
      assertEquals(2, json.get("jobs").size());
      for (JsonNode job : json.get("jobs")) {
        JsonNode seconds = job.get("seconds");
        assertEquals(List.of("text", "denoise", "decode"), names(seconds));
        seconds.forEach(s -> assertTrue(s.asDouble() > 0, "every phase took time: " + seconds));
        assertTrue(job.get("bookedPeakBytes").asLong() > 0);
        assertEquals(-1, job.get("measuredPeakDeviceBytes").get("denoise").asLong());
      }
      assertTrue(json.get("predictedDeviceBytes").get("denoise").asLong() > 0);
      String[] again = run(0, args);
      assertTrue(again[1].contains("using the model in"), "the written model is reused");
    } finally {
      if (before == null) {
        System.clearProperty("fleet.default.model");
      } else {
        System.setProperty("fleet.default.model", before);
      }
    }
  }

  @Test
  void scriptedBlocksAndFp8MatmulNeedAGpu() {
    String[] r = run(2, "bench", "--synthetic", "tiny", "--budget", "2GiB", "--blocks", "scripted");
    assertTrue(r[1].contains("--blocks scripted needs a GPU"), r[1]);
    r = run(2, "bench", "--synthetic", "tiny", "--budget", "2GiB", "--matmul", "fp8");
    assertTrue(r[1].contains("--matmul fp8 needs the scripted blocks"), r[1]);
  }

  private static List<String> names(JsonNode o) {
    List<String> n = new ArrayList<>();
    o.fieldNames().forEachRemaining(n::add);
    return n;
  }

  @Test
  void aBudgetNoPlanFitsIsRefusedWithTheReason() {
    String[] r = run(2, "bench", "--synthetic", "flux-dev", "--budget", "512MiB");
    assertTrue(r[1].contains("nothing fits in 0.5 GiB"), r[1]);
  }

  /**
   * NewBie's tiny preset on CPU: each timed step is the sampler's, with classifier-free guidance
   * (the denoiser's batch of 2) until the truncation; the plan is named, the ledger booked within
   * the usable budget and the prediction (float16 on the CPU, so that the planner's float16
   * arithmetic is the executor's), and nvidia-smi's measurement is not there.
   */
  @Test
  void newbieStepsRunWithGuidanceUnderThePlan() throws Exception {
    String[] r =
        run(
            0,
            "bench",
            "--synthetic",
            "newbie-tiny",
            "--budget",
            "2GiB",
            "--width",
            "64",
            "--height",
            "64",
            "--steps",
            "2",
            "--precision",
            "fp16");
    JsonNode json = new ObjectMapper().readTree(r[0]);
    assertEquals("newbie-tiny", json.get("model").asText());
    assertEquals("all-resident", json.get("plan").asText());
    assertEquals(2, json.get("secondsPerStepAll").size());
    json.get("secondsPerStepAll").forEach(t -> assertTrue(t.asDouble() > 0, "a step took time"));
    assertTrue(json.get("secondsPerStep").asDouble() > 0);
    assertEquals(2, json.get("denoiserBatch").asInt());
    assertEquals(2, json.get("guidedSteps").asInt(), "no truncation: every step guided");
    long usable = json.get("budgetBytes").asLong() - json.get("reserveBytes").asLong();
    long booked = json.get("bookedPeakBytes").asLong();
    assertTrue(booked > 0 && booked <= usable, "booked " + booked + " of " + usable);
    long predicted = json.get("predictedPeakBytes").asLong();
    assertTrue(booked <= predicted, "booked " + booked + " > predicted " + predicted);
    assertEquals(-1, json.get("measuredPeakDeviceBytes").asLong(), "no nvidia-smi reading on CPU");
    assertTrue(r[1].contains("plan all-resident"), r[1]);
    // Truncated at model time 0, no step runs the unconditional pass.
    String[] t =
        run(
            0,
            "bench",
            "--synthetic",
            "newbie-tiny",
            "--budget",
            "2GiB",
            "--width",
            "64",
            "--height",
            "64",
            "--steps",
            "2",
            "--cfg-trunc",
            "0");
    assertEquals(0, new ObjectMapper().readTree(t[0]).get("guidedSteps").asInt());
  }

  /** NewBie's whole jobs on a NewBie directory (the fixture), timed per phase. */
  @Test
  void newbieJobsAreTimedPerPhaseOnANewbieDirectory() throws Exception {
    String[] r =
        run(
            0,
            "bench",
            "--synthetic",
            "newbie-tiny",
            "--budget",
            "2GiB",
            "--jobs",
            "2",
            "--steps",
            "2",
            "--width",
            "64",
            "--height",
            "64",
            "--model-dir",
            "src/test/resources/fixtures/newbie-tiny");
    JsonNode json = new ObjectMapper().readTree(r[0]);
    assertEquals(2, json.get("steps").asInt());
    assertFalse(json.get("plan").asText().isEmpty());
    assertEquals(2, json.get("jobs").size());
    for (JsonNode job : json.get("jobs")) {
      JsonNode seconds = job.get("seconds");
      assertEquals(List.of("text", "denoise", "decode"), names(seconds));
      seconds.forEach(s -> assertTrue(s.asDouble() > 0, "every phase took time: " + seconds));
      assertTrue(job.get("secondsPerStep").asDouble() > 0);
      assertTrue(job.get("bookedPeakBytes").asLong() > 0);
      assertEquals(-1, job.get("measuredPeakDeviceBytes").get("denoise").asLong());
    }
    assertTrue(json.get("predictedDeviceBytes").get("t5").asLong() > 0);
  }

  /**
   * NewBie's whole jobs without a model: the preset written with random weights (into a temporary
   * directory, deleted after; into {@code --model-dir}, kept and reused), timed per phase.
   */
  @Test
  void newbieJobsRunOnAWrittenSyntheticModel(@TempDir Path dir) throws Exception {
    String[] args = {
      "bench",
      "--synthetic",
      "newbie-tiny",
      "--budget",
      "2GiB",
      "--jobs",
      "2",
      "--steps",
      "2",
      "--width",
      "64",
      "--height",
      "64"
    };
    String[] r = run(0, args);
    assertTrue(r[1].contains("wrote newbie-tiny (random weights)"), r[1]);
    JsonNode json = new ObjectMapper().readTree(r[0]);
    assertTrue(json.get("model").asText().startsWith("fleet-bench-model"), r[0]);
    assertEquals(2, json.get("steps").asInt());
    String plan = json.get("plan").asText();
    assertFalse(plan.isEmpty());
    assertTrue(r[1].contains("plan " + plan), r[1]);
    assertEquals(2, json.get("jobs").size());
    for (JsonNode job : json.get("jobs")) {
      JsonNode seconds = job.get("seconds");
      assertEquals(List.of("text", "denoise", "decode"), names(seconds));
      seconds.forEach(s -> assertTrue(s.asDouble() > 0, "every phase took time: " + seconds));
      assertEquals(plan, job.get("plan").asText());
      assertTrue(job.get("bookedPeakBytes").asLong() > 0);
    }
    Path model = dir.resolve("nb");
    String[] kept = Arrays.copyOf(args, args.length + 2);
    kept[args.length] = "--model-dir";
    kept[args.length + 1] = model.toString();
    String[] first = run(0, kept);
    assertTrue(first[1].contains("wrote newbie-tiny"), first[1]);
    assertTrue(Files.isDirectory(model.resolve("clip_model")));
    assertFalse(Files.exists(dir.resolve("nb.partial")), "the partial write is gone");
    String[] again = run(0, kept);
    assertTrue(again[1].contains("using the model in"), "the written model is reused");
    assertEquals(2, new ObjectMapper().readTree(again[0]).get("jobs").size());
    // A directory of another family's model is used, not overwritten, and refused by name.
    String[] flux = Arrays.copyOf(kept, kept.length);
    flux[kept.length - 1] = Fixtures.SHAPES_MODEL.toString();
    String[] refused = run(2, flux);
    assertTrue(refused[1].contains("is not a NewBie model (its family: flux)"), refused[1]);
  }

  @Test
  void unknownPresetsAreRefusedNamingTheKnownOnes() {
    String[] r = run(2, "bench", "--synthetic", "sdxl", "--budget", "8GiB");
    assertTrue(r[1].contains("--synthetic sdxl is not a preset (known: "), r[1]);
    assertTrue(r[1].contains("newbie-tiny"), r[1]);
    r = run(2, "bench", "--synthetic", "tiny", "--budget", "2GiB", "--cfg-trunc", "0.5");
    assertTrue(r[1].contains("--cfg-trunc is NewBie's"), r[1]);
  }
}
