package dev.fleet.engine.pipeline;

import dev.fleet.engine.image.PngEncoder;
import dev.fleet.model.GenerationSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/** A decoded image as the job's result: RGB bytes and a PNG carrying the job's settings. */
final class ImageOutput {
  private ImageOutput() {}

  /**
   * @param chw the decoded (1, 3, H, W) pixels in [-1, 1]
   */
  static GeneratedImage of(GenerationSpec spec, float[] chw) {
    byte[] rgb = toRgb(chw, spec.width(), spec.height());
    byte[] png = PngEncoder.encode(rgb, spec.width(), spec.height(), pngText(spec));
    return new GeneratedImage(spec, spec.width(), spec.height(), rgb, png);
  }

  /** (1, 3, H, W) in [-1, 1] to HWC bytes as {@code (127.5 * (x + 1)).byte()}: truncation. */
  static byte[] toRgb(float[] chw, int width, int height) {
    int plane = width * height;
    byte[] rgb = new byte[plane * 3];
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < plane; i++) {
        rgb[i * 3 + c] = (byte) (int) (127.5f * (chw[c * plane + i] + 1f));
      }
    }
    return rgb;
  }

  /** The text chunks of the PNG: A1111-style {@code parameters} plus one key per setting. */
  static Map<String, String> pngText(GenerationSpec spec) {
    Map<String, String> text = new LinkedHashMap<>();
    text.put("parameters", spec.parametersText());
    text.put("prompt", spec.prompt());
    text.put("seed", Long.toString(spec.seed()));
    text.put("steps", Integer.toString(spec.steps()));
    text.put("width", Integer.toString(spec.width()));
    text.put("height", Integer.toString(spec.height()));
    text.put("guidance", Double.toString(spec.guidance()));
    text.put("model", spec.model());
    if (!spec.loras().isEmpty()) {
      text.put("loras", spec.lorasText());
    }
    text.put("Software", "fleet (FLUX in Java, DJL)");
    return text;
  }
}
