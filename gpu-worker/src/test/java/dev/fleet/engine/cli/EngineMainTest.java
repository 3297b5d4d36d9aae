package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.TensorAsserts;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.testing.ImageAssert;
import dev.fleet.testing.TensorAssert;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineMainTest {
  @TempDir Path tmp;

  private record Result(int code, String out, String err) {}

  private Result run(String... args) {
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

  /**
   * A valid generate command line; {@code overrides} are option/value pairs that replace or add.
   */
  private String[] generate(String... overrides) {
    java.util.Map<String, String> opts = new java.util.LinkedHashMap<>();
    opts.put("--model", Fixtures.MODEL.toString());
    opts.put("--prompt", "a fox");
    opts.put("--seed", "1");
    opts.put("--steps", "1");
    opts.put("--width", "64");
    opts.put("--height", "48");
    opts.put("--out", tmp.resolve("o.png").toString());
    for (int i = 0; i < overrides.length; i += 2) {
      opts.put(overrides[i], overrides[i + 1]);
    }
    java.util.List<String> argv = new java.util.ArrayList<>(java.util.List.of("generate"));
    opts.forEach(
        (k, v) -> {
          argv.add(k);
          argv.add(v);
        });
    return argv.toArray(String[]::new);
  }

  @Test
  void widthNotAMultipleOf16IsRefusedWithTheNearestSize() {
    Result r = run(generate("--width", "100"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("width: must be a multiple of 16, got 100 (nearest: 96)"), r.err());
    assertTrue(Files.notExists(tmp.resolve("o.png")));
  }

  @Test
  void badCommandLinesNameTheProblem() {
    assertRefused(
        run("generate", "--model", Fixtures.MODEL.toString(), "--out", "x.png"),
        "missing required option --prompt");
    assertRefused(run(generate("--steps", "many")), "--steps must be an integer, got 'many'");
    assertRefused(run(generate("--colour", "red")), "unknown option --colour");
    assertRefused(run(generate("--steps", "0")), "steps: must be between 1 and");
    assertRefused(run(generate("--device", "tpu")), "--device must be cpu or gpu");
    assertRefused(run(generate("--precision", "int4")), "--precision must be fp32 or fp16");
    assertRefused(
        run(
            "generate",
            "--model",
            tmp.resolve("absent").toString(),
            "--prompt",
            "x",
            "--out",
            "x.png"),
        "does not exist");
    assertRefused(
        run(generate("--dit", "nope.safetensors")), "--dit nope.safetensors: no such file");
    assertRefused(run("paint"), "unknown engine command 'paint'");
    assertRefused(run("bench", "--budget", "8GiB"), "missing required option --synthetic");
    assertRefused(run("bench", "--synthetic", "flux-3", "--budget", "8GiB"), "is not a preset");
  }

  @Test
  void helpIsGeneratedForEveryCommand() {
    Result all = run("help");
    assertEquals(0, all.code(), all.err());
    for (String command : new String[] {"generate", "parity", "plan", "bench"}) {
      assertTrue(all.out().contains("Usage: ./fleet engine " + command), all.out());
    }
    assertTrue(all.out().contains("--lora=FILE[:STRENGTH]"), all.out());
    Result plan = run("plan", "--help");
    assertEquals(0, plan.code(), plan.err());
    assertTrue(plan.out().contains("--budget=SIZE"), plan.out());
    assertTrue(plan.out().contains("--synthetic=NAME"), plan.out());
    assertEquals("", plan.err());
  }

  @Test
  void anOptionGivenTwiceOrAStrayArgumentIsRefused() {
    assertRefused(
        run("plan", "--synthetic", "tiny", "--budget", "8GiB", "--budget", "9GiB"),
        "plan: --budget given twice");
    assertRefused(
        run("plan", "--synthetic", "tiny", "--budget", "8GiB", "stray"),
        "plan: unexpected argument 'stray'");
    assertRefused(run("plan", "--synthetic", "tiny", "--budget"), "plan: --budget needs a value");
    assertRefused(
        run("bench", "--synthetic", "tiny", "--budget", "8GiB", "--steps", "x"),
        "bench: --steps must be an integer, got 'x'");
  }

  @Test
  void ditFilesInNoKnownLayoutOrFormatExitTwoNamingWhy() throws Exception {
    Path gguf = tmp.resolve("flux1-dev-Q8_0.gguf");
    Files.write(gguf, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0});
    assertRefused(run(generate("--dit", gguf.toString())), "GGUF", "safetensors");
    Path vae = Fixtures.MODEL.resolve("vae/ae.safetensors").toAbsolutePath();
    assertRefused(
        run(generate("--dit", vae.toString())),
        "not a FLUX transformer",
        "model.diffusion_model.",
        "First keys that did not fit: [decoder.");
  }

  /**
   * The fixture's transformer saved as ComfyUI does (prefixed keys), outside the model directory
   * with its config beside it, given as an absolute --dit: the fixture's image.
   */
  @Test
  void aComfyPrefixedDitGivenByAbsolutePathGivesTheSameImage() throws Exception {
    Path downloads = Files.createDirectories(tmp.resolve("downloads"));
    Path comfy = downloads.resolve("comfy-f32.safetensors");
    try (TensorStore fixture =
        TensorStore.open(Fixtures.MODEL.resolve("transformer/flux.safetensors"))) {
      dev.fleet.engine.synthetic.DitVariant.COMFYUI_PREFIX.write(
          fixture, comfy, downloads.resolve("plain.safetensors"));
    }
    Files.copy(Fixtures.MODEL.resolve("transformer/config.json"), downloads.resolve("config.json"));
    Result plain = run(generate("--out", tmp.resolve("plain.png").toString()));
    assertEquals(0, plain.code(), plain.err());
    Result prefixed =
        run(generate("--dit", comfy.toString(), "--out", tmp.resolve("comfy.png").toString()));
    assertEquals(0, prefixed.code(), prefixed.err());
    ImageAssert.assertPngClose(
        tmp.resolve("plain.png"),
        Files.readAllBytes(tmp.resolve("comfy.png")),
        "ComfyUI-prefixed DiT vs the fixture's");
  }

  @Test
  void noiseFileWithoutTheTensorIsNamed() throws Exception {
    Path noise = tmp.resolve("noise.safetensors");
    new SafetensorsWriter().addFloats("other", new long[] {1}, new float[] {0}).write(noise);
    assertRefused(run(generate("--noise", noise.toString())), "[pipe.noise]: missing tensor");
    Path truncated = tmp.resolve("cut.safetensors");
    Files.write(truncated, new byte[] {1, 2, 3});
    assertRefused(run(generate("--noise", truncated.toString())), "cut.safetensors");
  }

  @Test
  void generateWritesAPngAndATrace() throws Exception {
    Path trace = tmp.resolve("t.safetensors");
    Result r = run(generate("--trace", trace.toString()));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"seed\":1"), r.out());
    byte[] png = Files.readAllBytes(tmp.resolve("o.png"));
    assertEquals((byte) 0x89, png[0]);
    try (TensorStore t = TensorStore.open(trace)) {
      assertTrue(
          t.contains("pipe.noise")
              && t.contains("pipe.timesteps")
              && t.contains("pipe.latents.step0")
              && t.contains("pipe.image"));
    }
  }

  @Test
  void parityWritesEveryOutputItHasInputsFor() throws Exception {
    Path out = tmp.resolve("p.safetensors");
    Result r =
        run(
            "parity",
            "--model",
            Fixtures.MODEL.toString(),
            "--inputs",
            Fixtures.EXPECTED.toString(),
            "--out",
            out.toString());
    assertEquals(0, r.code(), r.err());
    try (TensorStore got = TensorStore.open(out);
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      for (String name :
          new String[] {
            "dit.out",
            "vae.out.decoded",
            "vae.out.latent_mean_scaled",
            "t5.out.last_hidden_state",
            "clip.out.pooler_output",
            "clip.out.last_hidden_state"
          }) {
        double err =
            TensorAssert.relErr(
                TensorAsserts.floats(expected, name), TensorAsserts.floats(got, name));
        assertTrue(err <= 1e-4, name + " rel err " + err);
      }
    }
    Path empty = tmp.resolve("empty.safetensors");
    new SafetensorsWriter().addFloats("x", new long[] {1}, new float[] {0}).write(empty);
    assertRefused(
        run(
            "parity",
            "--model",
            Fixtures.MODEL.toString(),
            "--inputs",
            empty.toString(),
            "--out",
            out.toString()),
        "hold none of");
  }

  @Test
  void fp8AndBf16CheckpointsAreChosenWithDit() throws Exception {
    for (String[] c :
        new String[][] {
          {"flux-bf16.safetensors", "dit.out.bf16"}, {"flux-fp8-e4m3fn.safetensors", "dit.out.fp8"}
        }) {
      Path out = tmp.resolve(c[0] + ".out");
      Result r =
          run(
              "parity",
              "--model",
              Fixtures.MODEL.toString(),
              "--dit",
              c[0],
              "--inputs",
              Fixtures.EXPECTED.toString(),
              "--out",
              out.toString());
      assertEquals(0, r.code(), r.err());
      try (TensorStore got = TensorStore.open(out);
          TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
        double err =
            TensorAssert.relErr(
                TensorAsserts.floats(expected, c[1]), TensorAsserts.floats(got, "dit.out"));
        assertTrue(err <= 1e-4, c[0] + " rel err " + err);
      }
    }
  }

  private static void assertRefused(Result r, String... messages) {
    assertEquals(2, r.code(), "exit code; stderr: " + r.err());
    for (String message : messages) {
      assertTrue(r.err().contains(message), "expected '" + message + "' in: " + r.err());
    }
  }
}
