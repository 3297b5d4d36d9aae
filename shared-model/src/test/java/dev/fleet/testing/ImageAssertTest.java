package dev.fleet.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

class ImageAssertTest {
  static final int W = 20;
  static final int H = 10; // 200 pixels: 99 % identical allows 2 that differ

  static byte[] noise(long seed) {
    byte[] rgb = new byte[3 * W * H];
    new Random(seed).nextBytes(rgb);
    return rgb;
  }

  /** Moves one channel of pixel (x, y) by {@code n} levels, towards the middle of 0 … 255. */
  static void offBy(byte[] rgb, int x, int y, int channel, int n) {
    int i = 3 * (y * W + x) + channel;
    int v = rgb[i] & 0xff;
    rgb[i] = (byte) (v < 128 ? v + n : v - n);
  }

  @Test
  void identicalImagesPass() {
    byte[] a = noise(1);
    ImageAssert.Difference d = ImageAssert.compare(a, a.clone(), W);
    assertEquals(new ImageAssert.Difference(W, H, W * H, 0, -1, -1), d);
    assertTrue(d.closeEnough());
    ImageAssert.assertClose(a, a.clone(), W, "same");
  }

  @Test
  void aFewChannelsOffByOnePass() {
    byte[] a = noise(2);
    byte[] b = a.clone();
    offBy(b, 7, 4, 1, 1);
    offBy(b, 19, 9, 2, 1);
    ImageAssert.Difference d = ImageAssert.compare(a, b, W);
    assertEquals(W * H - 2, d.identicalPixels());
    assertEquals(1, d.maxChannelDifference());
    assertEquals(7, d.worstX());
    assertEquals(4, d.worstY());
    ImageAssert.assertClose(a, b, W, "two channels off by one");
  }

  @Test
  void aChannelOffByTwoFails() {
    byte[] a = noise(3);
    byte[] b = a.clone();
    offBy(b, 5, 6, 0, 2);
    AssertionFailedError e =
        assertThrows(AssertionFailedError.class, () -> ImageAssert.assertClose(a, b, W, "fox"));
    assertTrue(e.getMessage().startsWith("fox: 199/200 pixels identical"), e.getMessage());
    assertTrue(e.getMessage().contains("max channel difference 2 at pixel 5,6"), e.getMessage());
  }

  @Test
  void offByOneOnMoreThanOnePercentOfThePixelsFails() {
    byte[] a = noise(4);
    byte[] b = a.clone();
    for (int x = 0; x < 3; x++) { // 3 of 200 pixels: 98.5 % identical
      offBy(b, x, 0, 1, 1);
    }
    assertFalse(ImageAssert.compare(a, b, W).closeEnough());
    assertThrows(AssertionFailedError.class, () -> ImageAssert.assertClose(a, b, W, "shifted"));
  }

  @Test
  void sizesMustAgree() {
    assertThrows(
        AssertionFailedError.class,
        () -> ImageAssert.assertClose(noise(5), new byte[3 * W * (H - 1)], W, "cut"));
    assertThrows(
        AssertionFailedError.class,
        () -> ImageAssert.assertClose(new byte[30], new byte[30], 4, "not rows of 4"));
  }

  @Test
  void pngsAreComparedByTheirPixels(@TempDir Path tmp) throws Exception {
    byte[] a = noise(6);
    byte[] b = a.clone();
    offBy(b, 0, 0, 0, 1);
    Path expected = tmp.resolve("expected.png");
    Files.write(expected, png(a));
    ImageAssert.assertPngClose(expected, png(b), "one channel off by one");
    ImageAssert.assertPngClose(png(a), png(a), "same");
    offBy(b, 1, 0, 2, 9);
    AssertionFailedError e =
        assertThrows(
            AssertionFailedError.class,
            () -> ImageAssert.assertPngClose(expected, png(b), "decoded"));
    assertTrue(e.getMessage().contains("max channel difference 9 at pixel 1,0"), e.getMessage());
    assertThrows(
        AssertionFailedError.class,
        () -> ImageAssert.assertPngClose(expected, new byte[] {1, 2, 3}, "garbage"));
  }

  static byte[] png(byte[] rgb) throws Exception {
    BufferedImage image = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        int i = 3 * (y * W + x);
        image.setRGB(x, y, (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }
}
