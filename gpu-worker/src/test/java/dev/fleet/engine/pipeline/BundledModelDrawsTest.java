package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bundled trained model draws what its prompt says: through the engine (tokenizers, both text
 * encoders, the DiT, the sampler and the decoder on this CPU), the image's border has the named
 * background colour and each named object's place the object's colour, for English and Chinese
 * prompts. Pixels are classified by the nearest of the training palette's colours
 * (gpu-worker/training/shapes.py), as the model card's score does.
 */
class BundledModelDrawsTest {
  private static final Map<String, int[]> PALETTE =
      Map.ofEntries(
          Map.entry("red", new int[] {220, 30, 30}),
          Map.entry("green", new int[] {30, 160, 60}),
          Map.entry("blue", new int[] {30, 70, 220}),
          Map.entry("yellow", new int[] {245, 215, 40}),
          Map.entry("orange", new int[] {245, 135, 20}),
          Map.entry("purple", new int[] {130, 50, 170}),
          Map.entry("pink", new int[] {245, 140, 200}),
          Map.entry("white", new int[] {245, 245, 245}),
          Map.entry("black", new int[] {20, 20, 20}),
          Map.entry("gray", new int[] {128, 128, 128}),
          Map.entry("brown", new int[] {125, 75, 35}),
          Map.entry("cyan", new int[] {40, 200, 220}));

  static FluxPipeline pipeline;

  @BeforeAll
  static void load() {
    pipeline =
        FluxPipeline.load(ModelDirectory.resolve(Fixtures.SHAPES_MODEL, null), ComputeTarget.cpu());
  }

  @AfterAll
  static void close() {
    pipeline.close();
  }

  @ParameterizedTest
  @CsvSource({
    "a red circle on a blue background, red, 64, 64, blue, 1",
    "'一个红色圆形，蓝色背景', red, 64, 64, blue, 2",
    "a large yellow square on a black background, yellow, 64, 64, black, 1",
    "'a small orange diamond at the top left and a cyan circle at the bottom right, on a pink"
        + " background', orange, 28, 28, pink, 3",
    "'a small orange diamond at the top left and a cyan circle at the bottom right, on a pink"
        + " background', cyan, 100, 100, pink, 3",
    "'a small white circle at the top left and a red triangle at the bottom right, on a blue"
        + " background', red, 100, 100, blue, 4",
    "'左边一个绿色三角形和右边一个紫色正方形，白色背景', green, 28, 64, white, 5",
    "'左边一个绿色三角形和右边一个紫色正方形，白色背景', purple, 100, 64, white, 5",
  })
  void theObjectsPlaceHasItsColourAndTheBorderTheBackgrounds(
      String prompt, String object, int x, int y, String background, long seed) {
    GeneratedImage img =
        pipeline.generate(
            new GenerationSpec(prompt, seed, 16, 128, 128, 0, "flux-shapes"),
            GenerationListener.NONE);
    assertEquals(128 * 128 * 3, img.rgb().length);
    double place = share(img, object, x, y, 10);
    double border = borderShare(img, background, 6);
    System.out.printf(
        "%s (seed %d): %s at (%d, %d) %.2f, %s border %.2f%n",
        prompt, seed, object, x, y, place, background, border);
    assertTrue(place >= 0.3, prompt + ": " + object + " at its place: " + place);
    assertTrue(border >= 0.8, prompt + ": " + background + " at the border: " + border);
  }

  /** Share of the pixels within {@code r} of (cx, cy) whose nearest palette colour is {@code c}. */
  private static double share(GeneratedImage img, String c, int cx, int cy, int r) {
    int hit = 0;
    int all = 0;
    for (int y = cy - r; y <= cy + r; y++) {
      for (int x = cx - r; x <= cx + r; x++) {
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) {
          all++;
          hit += nearest(img, x, y).equals(c) ? 1 : 0;
        }
      }
    }
    return (double) hit / all;
  }

  /**
   * Share of the pixels within {@code m} of the image's edges whose nearest colour is {@code c}.
   */
  private static double borderShare(GeneratedImage img, String c, int m) {
    int hit = 0;
    int all = 0;
    for (int y = 0; y < img.height(); y++) {
      for (int x = 0; x < img.width(); x++) {
        if (x < m || y < m || x >= img.width() - m || y >= img.height() - m) {
          all++;
          hit += nearest(img, x, y).equals(c) ? 1 : 0;
        }
      }
    }
    return (double) hit / all;
  }

  private static String nearest(GeneratedImage img, int x, int y) {
    int i = 3 * (y * img.width() + x);
    String best = null;
    long bestD = Long.MAX_VALUE;
    for (var e : PALETTE.entrySet()) {
      long d = 0;
      for (int k = 0; k < 3; k++) {
        long diff = (img.rgb()[i + k] & 0xff) - e.getValue()[k];
        d += diff * diff;
      }
      if (d < bestD) {
        bestD = d;
        best = e.getKey();
      }
    }
    return best;
  }
}
