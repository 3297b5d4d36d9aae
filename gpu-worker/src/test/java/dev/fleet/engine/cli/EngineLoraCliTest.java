package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.lora.LoraFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate} and {@code plan} with {@code --lora FILE[:STRENGTH]}. */
class EngineLoraCliTest {
  @TempDir Path tmp;

  private record Result(int code, String out, String err) {}

  private static Result run(List<String> args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new EngineMain(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))
            .run(args.toArray(String[]::new));
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private byte[] generate(String name, String... loras) throws Exception {
    Path png = tmp.resolve(name + ".png");
    List<String> a =
        new ArrayList<>(
            List.of(
                "generate",
                "--model",
                Fixtures.MODEL.toString(),
                "--prompt",
                "a red fox",
                "--seed",
                "1",
                "--steps",
                "2",
                "--width",
                "64",
                "--height",
                "48",
                "--out",
                png.toString()));
    for (String l : loras) {
      a.add("--lora");
      a.add(l);
    }
    Result r = run(a);
    assertEquals(0, r.code(), r.err());
    return Files.readAllBytes(png);
  }

  @Test
  void generateAppliesRepeatableLorasAndRecordsThem() throws Exception {
    Path style = LoraFiles.kohya(3, 0.08f).write(tmp.resolve("style.safetensors"));
    Path other = LoraFiles.kohya(4, 0.08f).write(tmp.resolve("other.safetensors"));
    byte[] none = generate("none");
    byte[] zero = generate("zero", style + ":0");
    byte[] one = generate("one", style.toString());
    byte[] stacked = generate("stacked", style + ":0.7", other + ":-0.5");
    String text = new String(stacked, StandardCharsets.ISO_8859_1);
    assertTrue(text.contains("<lora:style:0.7> <lora:other:-0.5>"), "parameters with the tags");
    assertTrue(text.contains("style:0.7, other:-0.5"), "the loras chunk");
    assertTrue(new String(one, StandardCharsets.ISO_8859_1).contains("<lora:style:1>"));
    assertFalse(java.util.Arrays.equals(none, one), "a LoRA at strength 1 changes the image");
    // strength 0 is no LoRA: the same code path in this process, so the same pixels on any CPU
    // (the PNG differs only in its parameters text)
    assertArrayEquals(pixels(none), pixels(zero));
  }

  private static int[] pixels(byte[] png) throws Exception {
    java.awt.image.BufferedImage img =
        javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }

  @Test
  void aBadLoraFileExitsTwoNamingIt() throws Exception {
    Path bad = Files.writeString(tmp.resolve("bad.safetensors"), "not a lora");
    Result r =
        run(
            List.of(
                "generate",
                "--model",
                Fixtures.MODEL.toString(),
                "--prompt",
                "x",
                "--steps",
                "1",
                "--width",
                "32",
                "--height",
                "32",
                "--out",
                tmp.resolve("x.png").toString(),
                "--lora",
                bad + ":0.5"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("bad.safetensors"), r.err());
    Result missing =
        run(
            List.of(
                "generate",
                "--model",
                Fixtures.MODEL.toString(),
                "--prompt",
                "x",
                "--out",
                tmp.resolve("y.png").toString(),
                "--lora",
                tmp.resolve("nope.safetensors") + ""));
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("nope.safetensors"), missing.err());
  }

  @Test
  void planCountsTheAdapters() throws Exception {
    Path style = LoraFiles.kohya(3, 0.08f).write(tmp.resolve("style.safetensors"));
    List<String> base =
        List.of(
            "plan",
            "--model",
            Fixtures.MODEL.toString(),
            "--budget",
            "1GiB",
            "--width",
            "128",
            "--height",
            "128");
    Result without = run(base);
    List<String> with = new ArrayList<>(base);
    with.addAll(List.of("--lora", style + ":0.7", "--lora", style.toString()));
    Result r = run(with);
    assertEquals(0, r.code(), r.err());
    JsonNode a = new ObjectMapper().readTree(without.out());
    JsonNode b = new ObjectMapper().readTree(r.out());
    assertEquals(0, a.get("loraBytes").asLong());
    assertTrue(b.get("loraBytes").asLong() > 0, r.out());
    String denoise = dev.fleet.model.memory.Phase.DENOISE.label();
    assertEquals(
        b.get("loraBytes").asLong(),
        b.get("phasePeakBytes").get(denoise).asLong()
            - a.get("phasePeakBytes").get(denoise).asLong(),
        "the adapters are part of the denoising phase's peak");
  }
}
