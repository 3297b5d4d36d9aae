package dev.fleet.engine.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

class PngEncoderTest {

  @Test
  void decodesToTheSamePixelsAndCarriesTheText() throws Exception {
    int w = 7;
    int h = 5;
    byte[] rgb = new byte[w * h * 3];
    for (int i = 0; i < rgb.length; i++) {
      rgb[i] = (byte) (i * 37 + 11);
    }
    Map<String, String> text = new LinkedHashMap<>();
    text.put("parameters", "a fox\nSteps: 4, Seed: 1");
    text.put("seed", "1");
    byte[] png = PngEncoder.encode(rgb, w, h, text);
    assertArrayEquals(png, PngEncoder.encode(rgb, w, h, text), "same input, same bytes");

    BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
    assertEquals(w, img.getWidth());
    assertEquals(h, img.getHeight());
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = img.getRGB(x, y);
        int o = (y * w + x) * 3;
        assertEquals(rgb[o] & 0xff, (p >> 16) & 0xff);
        assertEquals(rgb[o + 1] & 0xff, (p >> 8) & 0xff);
        assertEquals(rgb[o + 2] & 0xff, p & 0xff);
      }
    }
    assertEquals(text, readText(png));
  }

  @Test
  void refusesMismatchedSizes() {
    assertThrows(
        IllegalArgumentException.class, () -> PngEncoder.encode(new byte[10], 2, 2, Map.of()));
  }

  static Map<String, String> readText(byte[] png) throws Exception {
    Map<String, String> out = new LinkedHashMap<>();
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
      ImageReader reader = ImageIO.getImageReadersByFormatName("png").next();
      reader.setInput(in);
      Node root = reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
      for (Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
        if (n.getNodeName().equals("tEXt")) {
          for (Node e = n.getFirstChild(); e != null; e = e.getNextSibling()) {
            NamedNodeMap a = e.getAttributes();
            out.put(
                a.getNamedItem("keyword").getNodeValue(), a.getNamedItem("value").getNodeValue());
          }
        }
      }
      reader.dispose();
    }
    return out;
  }
}
