package dev.fleet.engine.synthetic;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.engine.weights.Widening;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The spellings of a FLUX transformer checkpoint found in the wild, written from a BFL-layout
 * checkpoint together with its plain float32 equivalent (the values the spelling stands for, e.g.
 * float8 codes times their scale), so that a test can check that loading the spelling gives what
 * loading the equivalent gives. Key prefixes and encodings are written as ComfyUI, Kijai's fp8
 * releases and all-in-one dumps write them.
 */
public enum DitVariant {
  /** ComfyUI's prefix, float32 values: what ComfyUI saves and majicflus-style files carry. */
  COMFYUI_PREFIX("model.diffusion_model.", Encoding.SAME),
  /** The shorter prefix some tools write. */
  DIFFUSION_MODEL_PREFIX("diffusion_model.", Encoding.SAME),
  /** Every matrix float8 e4m3fn without scales, the rest bf16 (Kijai-style fp8 files). */
  FP8_E4M3FN("", Encoding.PLAIN_E4M3),
  /** As {@link #FP8_E4M3FN} in e5m2. */
  FP8_E5M2("", Encoding.PLAIN_E5M2),
  /** ComfyUI "scaled fp8": a {@code scaled_fp8} marker and {@code <layer>.scale_weight}. */
  SCALED_FP8("model.diffusion_model.", Encoding.SCALE_WEIGHT),
  /** ComfyUI's newer spelling: {@code weight_scale}, {@code input_scale}, {@code comfy_quant}. */
  SCALED_FP8_COMFY_QUANT("model.diffusion_model.", Encoding.COMFY_QUANT),
  /**
   * {@code weight_scale} with the formats in the header's {@code _quantization_metadata} (layers
   * named as in the file, prefix included) and the float8 bytes in uint8 containers.
   */
  SCALED_FP8_METADATA("model.diffusion_model.", Encoding.METADATA_UINT8),
  /** Every tensor float8 e4m3fn, biases and norm scales included (all-in-one fp8 dumps). */
  FP8_EVERYTHING("model.diffusion_model.", Encoding.ALL_E4M3);

  /** How the tensors are stored. */
  enum Encoding {
    SAME,
    PLAIN_E4M3,
    PLAIN_E5M2,
    SCALE_WEIGHT,
    COMFY_QUANT,
    METADATA_UINT8,
    ALL_E4M3
  }

  /** The largest finite e4m3fn value, which scaled float8 maps a tensor's largest magnitude to. */
  private static final float E4M3_MAX = 448f;

  private final String prefix;
  private final Encoding encoding;

  DitVariant(String prefix, Encoding encoding) {
    this.prefix = prefix;
    this.encoding = encoding;
  }

  /** The prefix the transformer's keys carry. */
  public String prefix() {
    return prefix;
  }

  /**
   * Writes the transformer of {@code source} (BFL names, any float dtype) in this spelling to
   * {@code variant} and the values it stands for, in float32 under BFL names, to {@code plainF32}.
   */
  public void write(TensorStore source, Path variant, Path plainF32) throws IOException {
    write(source, prefix, variant, plainF32);
  }

  /**
   * As {@link #write(TensorStore, Path, Path)} with the keys under {@code keyPrefix} instead of the
   * spelling's own (e.g. "" for a text encoder stored as ComfyUI stores its scaled fp8 T5).
   */
  public void write(TensorStore source, String keyPrefix, Path variant, Path plainF32)
      throws IOException {
    SafetensorsWriter out = new SafetensorsWriter().metadata("format", "pt");
    addTo(out, source, keyPrefix);
    out.write(variant);
    SafetensorsWriter plain = new SafetensorsWriter().metadata("format", "pt");
    for (var e : equivalent(source).entrySet()) {
      plain.addFloats(e.getKey(), source.entry(e.getKey()).shape(), e.getValue());
    }
    plain.write(plainF32);
  }

  /** Adds the transformer in this spelling to a writer (e.g. of an all-in-one file). */
  public void addTo(SafetensorsWriter out, TensorStore source) {
    addTo(out, source, prefix);
  }

  private void addTo(SafetensorsWriter out, TensorStore source, String prefix) {
    Map<String, String> quantized = new LinkedHashMap<>();
    if (encoding == Encoding.SCALE_WEIGHT) {
      out.add(prefix + "scaled_fp8", DType.F8_E4M3, new long[] {0}, new byte[0]);
    }
    for (String name : source.names()) {
      TensorEntry e = source.entry(name);
      float[] v = floats(source, name);
      String key = prefix + name;
      boolean matrix = name.endsWith(".weight") && e.shape().length == 2;
      switch (encoding) {
        case SAME -> out.add(key, DType.F32, e.shape(), Narrowing.encode(v, DType.F32));
        case ALL_E4M3 -> out.add(key, DType.F8_E4M3, e.shape(), Narrowing.encode(v, DType.F8_E4M3));
        case PLAIN_E4M3, PLAIN_E5M2 -> {
          DType t =
              !matrix
                  ? DType.BF16
                  : encoding == Encoding.PLAIN_E4M3 ? DType.F8_E4M3 : DType.F8_E5M2;
          out.add(key, t, e.shape(), Narrowing.encode(v, t));
        }
        case SCALE_WEIGHT, COMFY_QUANT, METADATA_UINT8 -> {
          if (!matrix) {
            out.add(key, DType.BF16, e.shape(), Narrowing.encode(v, DType.BF16));
            continue;
          }
          float scale = scale(v);
          String layer = key.substring(0, key.length() - ".weight".length());
          DType stored = encoding == Encoding.METADATA_UINT8 ? DType.U8 : DType.F8_E4M3;
          out.add(key, stored, e.shape(), Narrowing.encode(scaled(v, scale), DType.F8_E4M3));
          String scaleName = encoding == Encoding.SCALE_WEIGHT ? ".scale_weight" : ".weight_scale";
          out.add(layer + scaleName, DType.F32, new long[0], f32(scale));
          if (encoding == Encoding.COMFY_QUANT) {
            out.add(layer + ".input_scale", DType.F32, new long[0], f32(1f));
            byte[] json = "{\"format\":\"float8_e4m3fn\"}".getBytes(StandardCharsets.UTF_8);
            out.add(layer + ".comfy_quant", DType.U8, new long[] {json.length}, json);
          }
          quantized.put(layer, "float8_e4m3fn");
        }
      }
    }
    if (encoding == Encoding.METADATA_UINT8) {
      StringBuilder json = new StringBuilder("{\"format_version\":\"1.0\",\"layers\":{");
      int i = 0;
      for (var q : quantized.entrySet()) {
        json.append(i++ > 0 ? "," : "")
            .append('"')
            .append(q.getKey())
            .append("\":{\"format\":\"")
            .append(q.getValue())
            .append("\"}");
      }
      out.metadata("_quantization_metadata", json.append("}}").toString());
    }
  }

  /** The float32 values every tensor of the spelling stands for, by BFL name. */
  public Map<String, float[]> equivalent(TensorStore source) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (String name : source.names()) {
      TensorEntry e = source.entry(name);
      float[] v = floats(source, name);
      boolean matrix = name.endsWith(".weight") && e.shape().length == 2;
      float[] w =
          switch (encoding) {
            case SAME -> v;
            case ALL_E4M3 -> decoded(v, DType.F8_E4M3, 1f);
            case PLAIN_E4M3 -> decoded(v, matrix ? DType.F8_E4M3 : DType.BF16, 1f);
            case PLAIN_E5M2 -> decoded(v, matrix ? DType.F8_E5M2 : DType.BF16, 1f);
            case SCALE_WEIGHT, COMFY_QUANT, METADATA_UINT8 ->
                matrix
                    ? decoded(scaled(v, scale(v)), DType.F8_E4M3, scale(v))
                    : decoded(v, DType.BF16, 1f);
          };
      out.put(name, w);
    }
    return out;
  }

  /** Per-tensor absmax scaling onto e4m3fn's range, as ComfyUI's converters compute it. */
  private static float scale(float[] v) {
    float max = 0;
    for (float x : v) {
      max = Math.max(max, Math.abs(x));
    }
    return max == 0 ? 1f : max / E4M3_MAX;
  }

  private static float[] scaled(float[] v, float scale) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] / scale;
    }
    return out;
  }

  /** {@code v} stored as {@code dtype} and read back, times {@code scale} (in float32). */
  private static float[] decoded(float[] v, DType dtype, float scale) {
    byte[] b = Narrowing.encode(v, dtype);
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      float x =
          switch (dtype) {
            case F8_E4M3 -> Widening.E4M3FN[b[i] & 0xff];
            case F8_E5M2 -> Widening.E5M2[b[i] & 0xff];
            case BF16 ->
                Float.intBitsToFloat(((b[2 * i] & 0xff) | (b[2 * i + 1] & 0xff) << 8) << 16);
            default -> throw new IllegalArgumentException("no decoding for " + dtype);
          };
      out[i] = x * scale;
    }
    return out;
  }

  private static byte[] f32(float v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
  }

  /** A float tensor's values (F32, BF16 or F16) as float32. */
  static float[] floats(TensorStore store, String name) {
    TensorEntry e = store.entry(name);
    ByteBuffer b = store.bytes(name).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[Math.toIntExact(e.elements())];
    switch (e.dtype()) {
      case F32 -> {
        FloatBuffer f = b.asFloatBuffer();
        f.get(out);
      }
      case BF16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Float.intBitsToFloat((b.getShort(b.position() + 2 * i) & 0xffff) << 16);
        }
      }
      case F16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Float.float16ToFloat(b.getShort(b.position() + 2 * i));
        }
      }
      default ->
          throw new IllegalArgumentException(
              store.describe() + " [" + name + "]: cannot read " + e.dtype() + " as float32");
    }
    return out;
  }
}
