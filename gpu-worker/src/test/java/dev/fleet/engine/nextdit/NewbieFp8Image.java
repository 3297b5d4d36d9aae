package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How close an image drawn with fp8 blocks is to the fixture's expected.png: e4m3fn's ≈ 2 %
 * relative error on the DiT's velocity moves the final latents by a few percent, which the decoder
 * maps to a few 8-bit levels on average (the ±1 bound of {@link ImageAssert} is for 16/32-bit
 * paths). The bounds leave about twice the measured difference (mean abs 0.83, PSNR 46.5 dB on the
 * fixture, printed by the tests); a mean difference of 0 means nothing was narrowed.
 */
public final class NewbieFp8Image {
  private NewbieFp8Image() {}

  /** The most the mean absolute difference per 8-bit channel may be. */
  public static final double MAX_MEAN_ABS = 4.0;

  /** The least the PSNR may be, in dB. */
  public static final double MIN_PSNR = 30.0;

  /** The fixture's reference image. */
  public static final Path EXPECTED_PNG =
      Path.of("src/test/resources/fixtures/newbie-tiny/expected.png");

  /**
   * Mean absolute difference per 8-bit channel and PSNR (dB) of two images of one size.
   *
   * @param meanAbs the mean of |a − b| over every channel of every pixel
   * @param psnr 10·log10(255² / mean squared difference), infinite for equal images
   */
  public record Distance(double meanAbs, double psnr) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "mean abs %.3f, PSNR %.1f dB", meanAbs, psnr);
    }
  }

  public static Distance distance(BufferedImage a, BufferedImage b) {
    double sum = 0;
    double sq = 0;
    long n = 0;
    for (int y = 0; y < a.getHeight(); y++) {
      for (int x = 0; x < a.getWidth(); x++) {
        int p = a.getRGB(x, y);
        int q = b.getRGB(x, y);
        for (int shift = 0; shift <= 16; shift += 8) {
          int d = ((p >> shift) & 0xff) - ((q >> shift) & 0xff);
          sum += Math.abs(d);
          sq += (double) d * d;
          n++;
        }
      }
    }
    double mse = sq / n;
    return new Distance(
        sum / n, mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse));
  }

  /**
   * Asserts that {@code png}, drawn with fp8 blocks, is within the bounds of expected.png and not
   * the 16-bit image; prints the distance.
   *
   * @return the distance
   */
  public static Distance assertClose(byte[] png, String what) {
    BufferedImage want = ImageAssert.readPng(EXPECTED_PNG);
    BufferedImage got = ImageAssert.readPng(png);
    Distance d = distance(want, got);
    System.out.println(what + " vs expected.png: " + d + ", " + ImageAssert.compare(want, got));
    assertTrue(d.meanAbs() <= MAX_MEAN_ABS, what + ": mean abs difference " + d.meanAbs());
    assertTrue(d.psnr() >= MIN_PSNR, what + ": PSNR " + d.psnr());
    assertTrue(d.meanAbs() > 0, what + ": the 16-bit image, so nothing was narrowed");
    return d;
  }
}
