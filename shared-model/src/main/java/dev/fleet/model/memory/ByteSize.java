package dev.fleet.model.memory;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as people write them ({@code 8GiB}, {@code 512MiB}, {@code 12G}, {@code 25GB/s}) and as
 * messages show them. Binary units ({@code KiB} ... and the bare {@code K}, {@code M}, {@code G},
 * {@code T}, as {@code -Xmx} reads them) are powers of 1024; {@code KB}, {@code MB}, {@code GB},
 * {@code TB} are powers of 1000, as link bandwidths are quoted.
 */
public final class ByteSize {
  public static final long KIB = 1L << 10;
  public static final long MIB = 1L << 20;
  public static final long GIB = 1L << 30;

  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)", Pattern.CASE_INSENSITIVE);

  private ByteSize() {}

  /**
   * Bytes of {@code text}: a plain number of bytes or a number with a unit.
   *
   * @throws IllegalArgumentException for anything else, a fraction of a byte, or an overflow
   */
  public static long parse(String text) {
    BigDecimal bytes = parseDecimal(text, text);
    try {
      return bytes.longValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a whole number of bytes that fits in 63 bits");
    }
  }

  /** Bytes per second of {@code text}: a size as {@link #parse} reads it, optionally {@code /s}. */
  public static double parseRate(String text) {
    String t = text.trim();
    String size = t.toLowerCase(Locale.ROOT).endsWith("/s") ? t.substring(0, t.length() - 2) : t;
    double rate = parseDecimal(size, text).doubleValue();
    if (!(rate > 0)) {
      throw new IllegalArgumentException("a rate must be positive, got '" + text + "'");
    }
    return rate;
  }

  private static BigDecimal parseDecimal(String text, String original) {
    Matcher m = SIZE.matcher(text == null ? "" : text.trim());
    if (!m.matches() || (m.group(3).equalsIgnoreCase("i"))) {
      throw new IllegalArgumentException(
          "'" + original + "' is not a size (examples: 8GiB, 512MiB, 12G, 25GB, 1073741824 bytes)");
    }
    String prefix = m.group(2).toLowerCase(Locale.ROOT);
    String suffix = m.group(3).toLowerCase(Locale.ROOT);
    if (prefix.isEmpty() && suffix.equals("ib")) {
      throw new IllegalArgumentException("'" + original + "' has no unit prefix before 'iB'");
    }
    // "KB", "MB", "GB", "TB" are decimal; "KiB" ... and the bare "K" ... binary.
    boolean decimal = suffix.equals("b") && !prefix.isEmpty();
    int power = prefix.isEmpty() ? 0 : "kmgt".indexOf(prefix) + 1;
    BigDecimal base = BigDecimal.valueOf(decimal ? 1000 : 1024);
    return new BigDecimal(m.group(1)).multiply(base.pow(power));
  }

  /** {@code 7.1 GiB}: bytes in GiB with one decimal (negative sizes keep their sign). */
  public static String gib(long bytes) {
    return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) GIB);
  }

  /**
   * {@code 4.9 GB}: bytes in decimal gigabytes with one decimal, as transfer volumes are quoted.
   */
  public static String gb(long bytes) {
    return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
  }

  /**
   * The shortest exact binary form ({@code 8GiB}, {@code 512MiB}), or plain bytes when no binary
   * unit divides it.
   */
  public static String exact(long bytes) {
    String[] units = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < units.length; i++) {
      long unit = 1L << (10 * (units.length - i));
      if (bytes != 0 && bytes % unit == 0) {
        return bytes / unit + units[i];
      }
    }
    return Long.toString(bytes);
  }
}
