package dev.fleet.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * "The same image" for 8-bit images computed in floating point by two code paths, or by one code
 * path on two processors: every channel within ±{@value #MAX_CHANNEL_DIFFERENCE} of the expected
 * one, and at least 99 % of the pixels exactly equal.
 *
 * <p>That is what is guaranteed. libtorch's CPU kernels pick their vector code by processor (an AMD
 * EPYC rounds differently from an Intel Xeon), and tiled decoding, chunked attention or streamed
 * blocks sum in another order; the float results then differ in their last bits, far below one step
 * of 1/255, which moves a value across a rounding boundary now and then — one channel by one — and
 * never further. A real bug (a wrong tile seam, swapped channels, an off-by-one everywhere) breaks
 * one of the two rules.
 *
 * <p>Where the same code runs twice in one process on the same inputs, the bytes are equal on any
 * machine: compare those with {@code assertArrayEquals}, not with this.
 */
public final class ImageAssert {
  private ImageAssert() {}

  /** The most any channel of any pixel may differ by. */
  public static final int MAX_CHANNEL_DIFFERENCE = 1;

  /** The fraction of pixels that must be exactly equal (all three channels). */
  public static final double MIN_IDENTICAL_FRACTION = 0.99;

  /**
   * How two images of the same size differ.
   *
   * @param identicalPixels pixels whose three channels are all equal
   * @param maxChannelDifference the largest difference of one channel, 0 … 255
   * @param worstX column of the first pixel with that difference (-1 when identical)
   * @param worstY row of that pixel (-1 when identical)
   */
  public record Difference(
      int width,
      int height,
      int identicalPixels,
      int maxChannelDifference,
      int worstX,
      int worstY) {

    public int pixels() {
      return width * height;
    }

    /** Whether the images are the same image in the sense of {@link ImageAssert}. */
    public boolean closeEnough() {
      return maxChannelDifference <= MAX_CHANNEL_DIFFERENCE
          && identicalPixels >= MIN_IDENTICAL_FRACTION * pixels();
    }

    @Override
    public String toString() {
      String worst = worstX < 0 ? "" : " at pixel " + worstX + "," + worstY;
      return String.format(
          "%d/%d pixels identical (%.0f %% needed), max channel difference %d%s (%d allowed)",
          identicalPixels,
          pixels(),
          100 * MIN_IDENTICAL_FRACTION,
          maxChannelDifference,
          worst,
          MAX_CHANNEL_DIFFERENCE);
    }
  }

  /** Compares interleaved 8-bit RGB (3 bytes a pixel, rows of {@code width} pixels). */
  public static Difference compare(byte[] expectedRgb, byte[] actualRgb, int width) {
    assertTrue(width > 0, "width " + width);
    assertEquals(expectedRgb.length, actualRgb.length, "RGB byte count");
    assertEquals(0, expectedRgb.length % (3 * width), "RGB bytes are not rows of " + width + " px");
    int pixels = expectedRgb.length / 3;
    int identical = 0;
    int max = 0;
    int worst = -1;
    for (int p = 0; p < pixels; p++) {
      int d = 0;
      for (int c = 0; c < 3; c++) {
        int i = 3 * p + c;
        d = Math.max(d, Math.abs((expectedRgb[i] & 0xff) - (actualRgb[i] & 0xff)));
      }
      if (d == 0) {
        identical++;
      } else if (d > max) {
        max = d;
        worst = p;
      }
    }
    return new Difference(
        width,
        pixels / width,
        identical,
        max,
        worst < 0 ? -1 : worst % width,
        worst < 0 ? -1 : worst / width);
  }

  /** Compares two decoded images of the same size, by their RGB channels. */
  public static Difference compare(BufferedImage expected, BufferedImage actual) {
    assertEquals(expected.getWidth(), actual.getWidth(), "width");
    assertEquals(expected.getHeight(), actual.getHeight(), "height");
    return compare(rgb(expected), rgb(actual), expected.getWidth());
  }

  /** Fails unless {@code actualRgb} is {@code expectedRgb} within the tolerance above. */
  public static void assertClose(byte[] expectedRgb, byte[] actualRgb, int width, String what) {
    check(compare(expectedRgb, actualRgb, width), what);
  }

  /** Fails unless {@code actual} is {@code expected} within the tolerance above. */
  public static void assertClose(BufferedImage expected, BufferedImage actual, String what) {
    check(compare(expected, actual), what);
  }

  /** Decodes both PNGs and fails unless they are the same image within the tolerance above. */
  public static void assertPngClose(byte[] expectedPng, byte[] actualPng, String what) {
    assertClose(readPng(expectedPng), readPng(actualPng), what);
  }

  /** {@link #assertPngClose(byte[], byte[], String)} with the expected PNG from a file. */
  public static void assertPngClose(Path expectedPng, byte[] actualPng, String what) {
    assertClose(readPng(expectedPng), readPng(actualPng), what);
  }

  /** A PNG's pixels; fails if the bytes are not an image. */
  public static BufferedImage readPng(byte[] png) {
    try {
      BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
      assertNotNull(image, "not a PNG (" + png.length + " bytes)");
      return image;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A PNG file's pixels; fails if the file is not an image. */
  public static BufferedImage readPng(Path png) {
    try {
      BufferedImage image = ImageIO.read(png.toFile());
      assertNotNull(image, "not a PNG: " + png);
      return image;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void check(Difference d, String what) {
    assertTrue(d.closeEnough(), what + ": " + d);
  }

  private static byte[] rgb(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    byte[] out = new byte[3 * w * h];
    int i = 0;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int argb = image.getRGB(x, y);
        out[i++] = (byte) (argb >> 16);
        out[i++] = (byte) (argb >> 8);
        out[i++] = (byte) argb;
      }
    }
    return out;
  }
}
