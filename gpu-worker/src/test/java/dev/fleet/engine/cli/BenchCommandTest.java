package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

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
  void aBudgetNoPlanFitsIsRefusedWithTheReason() {
    String[] r = run(2, "bench", "--synthetic", "flux-dev", "--budget", "512MiB");
    assertTrue(r[1].contains("nothing fits in 0.5 GiB"), r[1]);
  }
}
