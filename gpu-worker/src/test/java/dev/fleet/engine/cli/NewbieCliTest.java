package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.TensorAsserts;
import dev.fleet.engine.lora.LoraFiles;
import dev.fleet.engine.nextdit.NewbieFp8Image;
import dev.fleet.engine.nextdit.NewbieLoraFiles;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.model.memory.ByteSize;
import dev.fleet.model.memory.MemoryModel;
import dev.fleet.testing.ImageAssert;
import dev.fleet.testing.TensorAssert;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./fleet engine generate} and {@code plan} on NewBie-image: the newbie-tiny fixture's job
 * from the command line draws the fixture's expected.png, and the published 3.5 B model is planned
 * for 1024² within 8 GiB.
 */
class NewbieCliTest {
  static final Path FIXTURE = Path.of("src/test/resources/fixtures/newbie-tiny");

  @TempDir Path tmp;

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

  @Test
  void generateDrawsTheFixturesImage() throws Exception {
    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    Path png = tmp.resolve("newbie.png");
    Path trace = tmp.resolve("trace.safetensors");
    Result r =
        run(
            "generate",
            "--model",
            FIXTURE.toString(),
            "--prompt",
            c.get("prompt").asText(),
            "--negative-prompt",
            c.get("negative_prompt").asText(),
            "--seed",
            c.get("seed").asText(),
            "--width",
            c.get("width").asText(),
            "--height",
            c.get("height").asText(),
            "--steps",
            c.get("steps").asText(),
            "--guidance",
            c.get("cfg_scale").asText(),
            "--cfg-truncation",
            c.get("cfg_trunc").asText(),
            "--out",
            png.toString(),
            "--trace",
            trace.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"steps\":5"), r.out());
    BufferedImage want = ImageAssert.readPng(FIXTURE.resolve("expected.png"));
    BufferedImage got = ImageAssert.readPng(Files.readAllBytes(png));
    System.out.println("generate newbie-tiny vs expected.png: " + ImageAssert.compare(want, got));
    ImageAssert.assertClose(want, got, "./fleet engine generate on newbie-tiny");
    try (TensorStore t = TensorStore.open(trace)) {
      assertTrue(
          t.contains("pipe.noise") && t.contains("pipe.latents.step5"), t.names().toString());
    }
  }

  /** parity on the fixture's own inputs gives its reference outputs (fp32 CPU, ≤ 1e-4). */
  @Test
  void parityRunsTheComponentsOnTheFixturesInputs() {
    Path expected = FIXTURE.resolve("expected.safetensors");
    Path out = tmp.resolve("parity.safetensors");
    Result r =
        run(
            "parity",
            "--model",
            FIXTURE.toString(),
            "--inputs",
            expected.toString(),
            "--out",
            out.toString());
    assertEquals(0, r.code(), r.err());
    try (TensorStore want = TensorStore.open(expected);
        TensorStore got = TensorStore.open(out)) {
      for (String name :
          List.of(
              "dit.out",
              "gemma.out.hidden_states_m2",
              "jina.out.pooled",
              "jina.out.last_hidden_state")) {
        double err =
            TensorAssert.relErr(TensorAsserts.floats(want, name), TensorAsserts.floats(got, name));
        System.out.printf("parity newbie-tiny %s: rel L2 %.3e%n", name, err);
        assertTrue(err <= 1e-4, name + " rel L2 " + err);
      }
    }
  }

  @Test
  void theNewbiePresetAt1024FitsEightGibByStreaming() {
    Result r =
        run(
            "plan",
            "--synthetic",
            "newbie",
            "--budget",
            "8GiB",
            "--width",
            "1024",
            "--height",
            "1024",
            "--engine",
            "djl-scripted");
    assertEquals(0, r.code(), r.err() + r.out());
    System.out.println(r.out());
    JsonNode j = r.json();
    assertTrue(j.get("fits").asBoolean());
    long peak = j.get("predictedPeakBytes").asLong();
    assertTrue(peak <= 8 * ByteSize.GIB - MemoryModel.RESERVE_BYTES, "peak " + peak);
    assertEquals("gemma3", j.at("/residency/textEncoders/t5").asText());
    assertEquals("jina-clip", j.at("/residency/textEncoders/clip").asText());
    // Gemma (≈ 7 GiB in fp16) streams, so that all 38 fp8 blocks stay resident beside it.
    assertEquals("streamed", j.at("/residency/t5").asText());
    assertEquals(0, j.at("/residency/dit/doubleBlocks").asInt());
    assertEquals(38, j.at("/residency/dit/singleBlocks").asInt());
    assertEquals(38, j.at("/residency/dit/residentSingleBlocks").asInt());
    assertEquals(0, j.get("streamedBytesPerStep").asLong());
    assertEquals(0, j.get("doubleBlockBytes").asLong());
    assertTrue(j.get("singleBlockBytes").asLong() > 80_000_000, j.get("singleBlockBytes").asText());
  }

  @Test
  void twoGibAreRefusedWithWhatItNeeds() {
    Result r = run("plan", "--synthetic", "newbie", "--budget", "2GiB", "--width", "1024");
    assertEquals(2, r.code(), r.out());
    assertTrue(r.err().contains("engine: plan: nothing fits in 2.0 GiB"), r.err());
    assertTrue(r.err().contains("needs a budget of"), r.err());
    JsonNode j = r.json();
    assertTrue(j.get("plan").isNull());
    assertTrue(j.get("neededBytes").asLong() > 2 * ByteSize.GIB);
    System.out.println("newbie at 2 GiB: " + r.err());
  }

  @Test
  void theFixtureIsPlannedFromItsDirectory() {
    Result r =
        run(
            "plan",
            "--model",
            FIXTURE.toString(),
            "--budget",
            "1GiB",
            "--width",
            "80",
            "--height",
            "48");
    assertEquals(0, r.code(), r.err() + r.out());
    JsonNode j = r.json();
    assertEquals("newbie-tiny", j.get("model").asText());
    assertEquals("fp16", j.get("storage").asText());
    assertEquals(4, j.at("/residency/dit/singleBlocks").asInt());
  }

  /**
   * {@code --dit-storage fp8} on the fixture's float32 checkpoint: planned with fp8 blocks (a byte
   * per matrix weight and a float per matrix, not measured from the file), so a block and the
   * predicted peak take less than with native storage.
   */
  @Test
  void ditStorageFp8PlansTheFixturesBlocksInFp8() {
    String[] plan = {
      "plan", "--model", FIXTURE.toString(), "--budget", "1GiB", "--width", "80", "--height", "48"
    };
    Result nativeRun = run(plan);
    String[] fp8 = java.util.Arrays.copyOf(plan, plan.length + 2);
    fp8[plan.length] = "--dit-storage";
    fp8[plan.length + 1] = "fp8";
    Result fp8Run = run(fp8);
    assertEquals(0, nativeRun.code(), nativeRun.err());
    assertEquals(0, fp8Run.code(), fp8Run.err());
    JsonNode n = nativeRun.json();
    JsonNode f = fp8Run.json();
    assertEquals("fp16", n.get("storage").asText());
    assertEquals("fp8", f.get("storage").asText());
    long nativeBlock = n.get("singleBlockBytes").asLong();
    long fp8Block = f.get("singleBlockBytes").asLong();
    long nativePeak = n.get("predictedPeakBytes").asLong();
    long fp8Peak = f.get("predictedPeakBytes").asLong();
    System.out.printf(
        "plan newbie-tiny: block %d B native, %d B fp8; peak %d B native, %d B fp8%n",
        nativeBlock, fp8Block, nativePeak, fp8Peak);
    assertTrue(fp8Block < nativeBlock, fp8Block + " vs " + nativeBlock);
    assertTrue(fp8Peak < nativePeak, fp8Peak + " vs " + nativePeak);
  }

  /**
   * {@code generate --dit-storage fp8} on the fixture's float32 checkpoint draws with e4m3fn
   * blocks: within fp8's bounds of expected.png, and not the 16-bit image.
   */
  @Test
  void generateWithDitStorageFp8DrawsWithNarrowedBlocks() throws Exception {
    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    Path png = tmp.resolve("newbie-fp8.png");
    Result r =
        run(
            "generate",
            "--model",
            FIXTURE.toString(),
            "--dit-storage",
            "fp8",
            "--prompt",
            c.get("prompt").asText(),
            "--negative-prompt",
            c.get("negative_prompt").asText(),
            "--seed",
            c.get("seed").asText(),
            "--width",
            c.get("width").asText(),
            "--height",
            c.get("height").asText(),
            "--steps",
            c.get("steps").asText(),
            "--guidance",
            c.get("cfg_scale").asText(),
            "--cfg-truncation",
            c.get("cfg_trunc").asText(),
            "--out",
            png.toString());
    assertEquals(0, r.code(), r.err());
    NewbieFp8Image.assertClose(Files.readAllBytes(png), "generate --dit-storage fp8");
  }

  /**
   * FLUX's engine narrows nothing at load: fp8 asked for a float32 FLUX checkpoint is refused
   * naming why, before anything loads; an unknown value is a usage error naming the choices.
   */
  @Test
  void ditStorageFp8IsRefusedForA16BitFluxModelAndBadValuesAreNamed() {
    Result flux =
        run(
            "generate",
            "--model",
            "models/flux-tiny",
            "--dit-storage",
            "fp8",
            "--prompt",
            "a cat",
            "--out",
            tmp.resolve("flux.png").toString());
    assertEquals(2, flux.code(), flux.err());
    assertTrue(flux.err().contains("narrows no checkpoint to fp8"), flux.err());
    assertTrue(flux.err().contains("models/flux-tiny"), flux.err());
    Result bad =
        run("plan", "--model", FIXTURE.toString(), "--budget", "1GiB", "--dit-storage", "fp4");
    assertEquals(2, bad.code(), bad.err());
    assertTrue(bad.err().contains("--dit-storage"), bad.err());
    assertTrue(bad.err().contains("'fp4' is none of native, fp8"), bad.err());
  }

  /**
   * generate --lora on the fixture: a LoRA (ComfyUI layout, every linear layer of the Next-DiT)
   * changes the image, and the image is the one the fixture with the LoRA merged into its DiT's
   * float32 weights draws without it (±1 per channel).
   */
  @Test
  void generateWithLoraDrawsTheMergedModelsImage() throws Exception {
    LoraFiles files = NewbieLoraFiles.comfy(81, 0.1f);
    Path lora = files.write(tmp.resolve("style.safetensors"));
    Path merged =
        NewbieLoraFiles.mergedModel(
            tmp.resolve("merged"), List.of(files.expected()), new double[] {0.8});
    BufferedImage base = fixtureJob(FIXTURE, "base");
    BufferedImage adapted = fixtureJob(FIXTURE, "lora", "--lora", lora + ":0.8");
    BufferedImage reference = fixtureJob(merged, "merged");
    ImageAssert.Difference changed = ImageAssert.compare(base, adapted);
    ImageAssert.Difference vsMerged = ImageAssert.compare(reference, adapted);
    System.out.println("generate newbie-tiny --lora vs no lora: " + changed);
    System.out.println("generate newbie-tiny --lora vs merged weights: " + vsMerged);
    assertTrue(
        changed.maxChannelDifference() > 8 && !changed.closeEnough(),
        "the LoRA did not change the image: " + changed);
    ImageAssert.assertClose(reference, adapted, "generate --lora vs the merged model");
  }

  /**
   * plan --lora on the fixture prices the adapters as for FLUX: their factors in the compute dtype
   * (rank 3 beside each of the Next-DiT's 42 linear layers, 2 bytes a value) plus their (tokens,
   * rank) intermediate, all in the denoising phase's peak.
   */
  @Test
  void planPricesTheLorasAdapters() throws Exception {
    Path lora = NewbieLoraFiles.comfy(83, 0.1f).write(tmp.resolve("style.safetensors"));
    List<String> base =
        List.of(
            "plan",
            "--model",
            FIXTURE.toString(),
            "--budget",
            "1GiB",
            "--width",
            "64",
            "--height",
            "64");
    Result without = run(base.toArray(String[]::new));
    List<String> with = new ArrayList<>(base);
    with.addAll(List.of("--lora", lora + ":0.5"));
    Result r = run(with.toArray(String[]::new));
    assertEquals(0, without.code(), without.err());
    assertEquals(0, r.code(), r.err());
    JsonNode a = without.json();
    JsonNode b = r.json();
    long factors = 0;
    for (int[] s : NewbieLoraFiles.shapes().values()) {
      factors += 3L * (s[0] + s[1]) * 2;
    }
    System.out.println(
        "plan newbie-tiny --lora: loraBytes " + b.get("loraBytes") + ", factors " + factors);
    assertEquals(0, a.get("loraBytes").asLong());
    assertTrue(b.get("loraBytes").asLong() > factors, r.out());
    String denoise = dev.fleet.model.memory.Phase.DENOISE.label();
    assertEquals(
        b.get("loraBytes").asLong(),
        b.get("phasePeakBytes").get(denoise).asLong()
            - a.get("phasePeakBytes").get(denoise).asLong(),
        "the adapters are part of the denoising phase's peak");
  }

  /** A FLUX LoRA given to NewBie is refused, saying so, before anything is drawn. */
  @Test
  void generateRefusesAFluxLora() throws Exception {
    Path flux = LoraFiles.kohya(82, 0.1f).write(tmp.resolve("flux-style.safetensors"));
    Path png = tmp.resolve("refused.png");
    Result r =
        run(
            "generate",
            "--model",
            FIXTURE.toString(),
            "--prompt",
            "a cat",
            "--width",
            "32",
            "--height",
            "32",
            "--steps",
            "1",
            "--lora",
            flux.toString(),
            "--out",
            png.toString());
    assertTrue(r.code() != 0, r.out());
    assertTrue(r.err().contains("a FLUX LoRA?"), r.err());
    assertTrue(r.err().contains("flux-style"), r.err());
    assertTrue(!Files.exists(png), "an image was written");
  }

  /** The fixture's job ({@code case.json}) generated from {@code model}, with extra arguments. */
  private BufferedImage fixtureJob(Path model, String name, String... extra) throws Exception {
    JsonNode c = new ObjectMapper().readTree(FIXTURE.resolve("case.json").toFile());
    Path png = tmp.resolve(name + ".png");
    List<String> args =
        new ArrayList<>(
            List.of(
                "generate",
                "--model",
                model.toString(),
                "--prompt",
                c.get("prompt").asText(),
                "--negative-prompt",
                c.get("negative_prompt").asText(),
                "--seed",
                c.get("seed").asText(),
                "--width",
                c.get("width").asText(),
                "--height",
                c.get("height").asText(),
                "--steps",
                c.get("steps").asText(),
                "--guidance",
                c.get("cfg_scale").asText(),
                "--cfg-truncation",
                c.get("cfg_trunc").asText(),
                "--out",
                png.toString()));
    args.addAll(List.of(extra));
    Result r = run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    return ImageAssert.readPng(Files.readAllBytes(png));
  }
}
