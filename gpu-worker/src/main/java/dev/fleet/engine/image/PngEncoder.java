package dev.fleet.engine.image;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A small, deterministic PNG encoder for 8-bit RGB images with tEXt chunks: the same pixels and
 * text always give the same bytes (fixed filter choice and compression level, no timestamps).
 */
public final class PngEncoder {
  private static final byte[] SIGNATURE = {(byte) 137, 80, 78, 71, 13, 10, 26, 10};

  private PngEncoder() {}

  /**
   * @param rgb HWC bytes, 3 per pixel
   * @param text keyword to value, written as Latin-1 tEXt chunks in iteration order
   */
  public static byte[] encode(byte[] rgb, int width, int height, Map<String, String> text) {
    if (width <= 0 || height <= 0 || rgb.length != width * height * 3) {
      throw new IllegalArgumentException(
          "need " + width + "x" + height + "x3 bytes, got " + rgb.length);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(rgb.length / 2 + 1024);
    out.writeBytes(SIGNATURE);
    byte[] ihdr = new byte[13];
    putInt(ihdr, 0, width);
    putInt(ihdr, 4, height);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // colour type: truecolour
    chunk(out, "IHDR", ihdr);
    for (Map.Entry<String, String> e : text.entrySet()) {
      chunk(out, "tEXt", textChunk(e.getKey(), e.getValue()));
    }
    chunk(out, "IDAT", compress(filterRows(rgb, width, height)));
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  private static byte[] textChunk(String keyword, String value) {
    if (keyword.isEmpty() || keyword.length() > 79) {
      throw new IllegalArgumentException(
          "PNG text keyword must have 1-79 characters: '" + keyword + "'");
    }
    // tEXt is Latin-1; characters outside it are replaced rather than corrupting the chunk.
    byte[] k = keyword.getBytes(StandardCharsets.ISO_8859_1);
    byte[] v = value.getBytes(StandardCharsets.ISO_8859_1);
    byte[] data = new byte[k.length + 1 + v.length];
    System.arraycopy(k, 0, data, 0, k.length);
    System.arraycopy(v, 0, data, k.length + 1, v.length);
    return data;
  }

  /** Every row with the Sub filter: a fixed choice keeps the output deterministic and small. */
  private static byte[] filterRows(byte[] rgb, int width, int height) {
    int stride = width * 3;
    byte[] raw = new byte[height * (stride + 1)];
    for (int y = 0; y < height; y++) {
      int o = y * (stride + 1);
      int s = y * stride;
      raw[o] = 1;
      for (int x = 0; x < stride; x++) {
        int left = x >= 3 ? rgb[s + x - 3] & 0xff : 0;
        raw[o + 1 + x] = (byte) ((rgb[s + x] & 0xff) - left);
      }
    }
    return raw;
  }

  private static byte[] compress(byte[] data) {
    Deflater deflater = new Deflater(6);
    try {
      deflater.setInput(data);
      deflater.finish();
      ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 64);
      byte[] buf = new byte[1 << 16];
      while (!deflater.finished()) {
        out.write(buf, 0, deflater.deflate(buf));
      }
      return out.toByteArray();
    } finally {
      deflater.end();
    }
  }

  private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
    byte[] len = new byte[4];
    putInt(len, 0, data.length);
    out.writeBytes(len);
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    out.writeBytes(t);
    out.writeBytes(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    byte[] c = new byte[4];
    putInt(c, 0, (int) crc.getValue());
    out.writeBytes(c);
  }

  private static void putInt(byte[] b, int off, int v) {
    b[off] = (byte) (v >>> 24);
    b[off + 1] = (byte) (v >>> 16);
    b[off + 2] = (byte) (v >>> 8);
    b[off + 3] = (byte) v;
  }
}
