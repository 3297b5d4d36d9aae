package dev.fleet.engine.lora;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.SafetensorsFile;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.weights.Widening;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * A copy of the tiny model directory whose DiT is a base checkpoint (float32, or float8 widened
 * exactly) with LoRA deltas merged into it: in float32, or rounded back to float8 e4m3 as a merge
 * into fp8 storage would.
 */
final class MergedModel {
  private MergedModel() {}

  /**
   * @param baseDit a file in the tiny model's {@code transformer/}
   * @param deltas BFL layer → (out, in) delta, added to {@code layer.weight}
   * @param intoFloat8 round every merged float8 weight back to e4m3 (what merging into fp8 storage
   *     does)
   */
  static Path write(Path dir, String baseDit, Map<String, float[]> deltas, boolean intoFloat8)
      throws IOException {
    Files.createDirectories(dir.resolve("transformer"));
    for (String sub :
        new String[] {"text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae"}) {
      Path link = dir.resolve(sub);
      if (!Files.exists(link)) {
        Files.createSymbolicLink(link, Fixtures.MODEL.resolve(sub).toAbsolutePath());
      }
    }
    Files.copy(
        Fixtures.MODEL.resolve("transformer/config.json"),
        dir.resolve("transformer/config.json"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    SafetensorsWriter w = new SafetensorsWriter();
    try (SafetensorsFile base =
        SafetensorsFile.open(Fixtures.MODEL.resolve("transformer/" + baseDit))) {
      for (String name : base.names()) {
        TensorEntry e = base.entry(name);
        float[] v = floats(base, e);
        String layer = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
        float[] d = layer == null ? null : deltas.get(layer);
        if (d != null) {
          if (d.length != v.length) {
            throw new IllegalArgumentException(
                name + ": delta of " + d.length + " for " + v.length);
          }
          for (int i = 0; i < v.length; i++) {
            v[i] += d[i];
            if (intoFloat8 && e.dtype() == dev.fleet.engine.safetensors.DType.F8_E4M3) {
              v[i] = roundE4m3(v[i]);
            }
          }
        }
        w.addFloats(name, e.shape(), v);
      }
    }
    w.write(dir.resolve("transformer/flux.safetensors"));
    return dir;
  }

  /** A tensor's values as float32 (F32, BF16 or e4m3, exactly). */
  static float[] floats(SafetensorsFile f, TensorEntry e) {
    ByteBuffer b = f.bytes(e.name()).order(ByteOrder.LITTLE_ENDIAN);
    int n = (int) e.elements();
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] =
          switch (e.dtype()) {
            case F32 -> b.getFloat(i * 4);
            case BF16 -> Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
            case F8_E4M3 -> Widening.E4M3FN[b.get(i) & 0xff];
            default -> throw new IllegalArgumentException(e.name() + " " + e.dtype());
          };
    }
    return v;
  }

  private static final float[] E4M3_SORTED = sortedE4m3();

  private static float[] sortedE4m3() {
    return Arrays.stream(boxed(Widening.E4M3FN))
        .filter(Float::isFinite)
        .distinct()
        .sorted()
        .collect(
            () -> new float[1][0],
            (a, x) -> {
              a[0] = Arrays.copyOf(a[0], a[0].length + 1);
              a[0][a[0].length - 1] = x;
            },
            (a, b) -> {})[0];
  }

  private static Float[] boxed(float[] v) {
    Float[] b = new Float[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = v[i];
    }
    return b;
  }

  /** The nearest e4m3fn value (saturating at ±448). */
  static float roundE4m3(float x) {
    int i = Arrays.binarySearch(E4M3_SORTED, x);
    if (i >= 0) {
      return x;
    }
    int hi = -i - 1;
    if (hi == 0) {
      return E4M3_SORTED[0];
    }
    if (hi == E4M3_SORTED.length) {
      return E4M3_SORTED[hi - 1];
    }
    float a = E4M3_SORTED[hi - 1];
    float b = E4M3_SORTED[hi];
    return x - a <= b - x ? a : b;
  }
}
