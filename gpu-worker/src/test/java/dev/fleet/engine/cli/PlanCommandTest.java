package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.model.memory.FluxMemoryModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlanCommandTest {
  private static final long GIB = 1L << 30;

  private record Result(int code, String out, String err) {
    JsonNode json() {
      try {
        return new ObjectMapper().readTree(out);
      } catch (Exception e) {
        throw new AssertionError("not JSON: " + out, e);
      }
    }
  }

  private static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new EngineMain(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))
            .run(args);
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static JsonNode fluxDev(String budget, String... more) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "plan",
                "--synthetic",
                "flux-dev",
                "--budget",
                budget,
                "--width",
                "1024",
                "--height",
                "1024"));
    argv.addAll(List.of(more));
    Result r = run(argv.toArray(String[]::new));
    assertEquals(0, r.code(), r.err() + r.out());
    return r.json();
  }

  @Test
  void fluxDevAt1024FitsEightGib() {
    JsonNode j = fluxDev("8GiB");
    assertTrue(j.get("fits").asBoolean());
    assertFalse(j.get("plan").asText().isEmpty());
    assertEquals(8 * GIB, j.get("budgetBytes").asLong());
    assertEquals(FluxMemoryModel.RESERVE_BYTES, j.get("reserveBytes").asLong());
    long peak = j.get("predictedPeakBytes").asLong();
    assertTrue(peak > GIB && peak <= 8 * GIB - FluxMemoryModel.RESERVE_BYTES, "peak " + peak);
    assertTrue(j.get("streamedBytesPerStep").asLong() > 0);
    assertTrue(j.get("boundSecondsPerStep").asDouble() > 0);
    JsonNode dit = j.at("/residency/dit");
    assertEquals(19, dit.get("doubleBlocks").asInt());
    assertEquals(38, dit.get("singleBlocks").asInt());
    assertEquals("fp8", dit.get("storage").asText());
    assertTrue(
        dit.get("residentDoubleBlocks").asInt() + dit.get("residentSingleBlocks").asInt() > 0);
    for (String c : List.of("t5", "clip", "autoencoder")) {
      assertTrue(j.at("/residency/" + c).isTextual(), c);
    }
    assertTrue(j.get("reason").asText().startsWith(j.get("plan").asText() + ": peak"));
    assertEquals(5, j.get("alternatives").size());
  }

  @Test
  void moreBudgetStreamsLess() {
    long s8 = fluxDev("8GiB").get("streamedBytesPerStep").asLong();
    long s12 = fluxDev("12GiB").get("streamedBytesPerStep").asLong();
    JsonNode sixteen = fluxDev("16GiB");
    long s16 = sixteen.get("streamedBytesPerStep").asLong();
    assertTrue(s8 > s12 && s12 > s16, s8 + " > " + s12 + " > " + s16);
    assertEquals(0, s16);
    long previousStreamed = Long.MAX_VALUE;
    double previousBound = Double.MAX_VALUE;
    for (String budget : List.of("6GiB", "7G", "8GiB", "10GiB", "12GiB", "14GiB", "16GiB")) {
      JsonNode j = fluxDev(budget, "--bandwidth", "5GB/s");
      assertTrue(j.get("streamedBytesPerStep").asLong() <= previousStreamed, budget);
      assertTrue(j.get("boundSecondsPerStep").asDouble() <= previousBound, budget);
      previousStreamed = j.get("streamedBytesPerStep").asLong();
      previousBound = j.get("boundSecondsPerStep").asDouble();
    }
  }

  @Test
  void halfAGibIsRefusedWithWhatItNeeds() {
    Result r = run("plan", "--synthetic", "flux-dev", "--budget", "512MiB", "--width", "1024");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("engine: plan: nothing fits in 0.5 GiB"), r.err());
    assertTrue(r.err().contains("needs a budget of"), r.err());
    JsonNode j = r.json();
    assertFalse(j.get("fits").asBoolean());
    assertTrue(j.get("plan").isNull());
    assertTrue(j.get("neededBytes").asLong() > 512L << 20);
    assertEquals("dit-streamed", j.get("leanestPlan").asText().split("\\+")[0]);
  }

  @Test
  void hardwareSetsTheBound() {
    JsonNode slow = fluxDev("8GiB", "--bandwidth", "1GB/s", "--tflops", "400");
    assertEquals(1e9, slow.at("/hardware/bandwidthBytesPerSecond").asDouble());
    assertEquals("transfer", slow.get("bound").asText());
    assertEquals(
        slow.get("streamedBytesPerStep").asLong() / 1e9,
        slow.get("boundSecondsPerStep").asDouble(),
        1e-9);
  }

  @Test
  void aModelDirectoryIsReadAsThePipelineReadsIt() {
    Result r =
        run(
            "plan",
            "--model",
            Fixtures.MODEL.toString(),
            "--budget",
            "8GiB",
            "--width",
            "128",
            "--height",
            "96");
    assertEquals(0, r.code(), r.err());
    JsonNode j = r.json();
    assertEquals("flux-tiny", j.get("model").asText());
    assertEquals("all-resident", j.get("plan").asText());
    assertEquals("fp16", j.get("storage").asText()); // the widest checkpoint there is float32
    r =
        run(
            "plan",
            "--model",
            Fixtures.MODEL.toString(),
            "--dit",
            "flux-fp8-e4m3fn.safetensors",
            "--budget",
            "1GiB",
            "--width",
            "128",
            "--height",
            "96");
    assertEquals(0, r.code(), r.err());
    assertEquals("fp8", r.json().get("storage").asText());
  }

  @Test
  void badCommandLinesNameTheProblem() {
    String[] base = {"plan", "--synthetic", "flux-dev"};
    assertRefused(run(base), "plan: missing required option --budget");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8 apples"),
        "plan: --budget: '8 apples' is not a size");
    assertRefused(
        run("plan", "--synthetic", "sdxl", "--budget", "8GiB"),
        "--synthetic sdxl is not a preset (known: flux-dev, flux-schnell, newbie, newbie-tiny,"
            + " shapes, tiny)");
    assertRefused(
        run("plan", "--synthetic", "tiny", "--model", "x", "--budget", "8GiB"), "not both");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8GiB", "--width", "1000"),
        "multiples of 16, got 1000x1024");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8GiB", "--storage", "bf16"),
        "fp8 or fp16");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8GiB", "--engine", "tensorrt"),
        "unknown engine profile 'tensorrt'");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8GiB", "--bandwidth", "fast"),
        "plan: --bandwidth: 'fast' is not a size");
    assertRefused(
        run("plan", "--synthetic", "flux-dev", "--budget", "8GiB", "--batch", "0"),
        "batch must be at least 1");
  }

  private static void assertRefused(Result r, String message) {
    assertEquals(2, r.code(), "exit code; stderr: " + r.err());
    assertTrue(r.err().contains(message), "expected '" + message + "' in: " + r.err());
  }
}
