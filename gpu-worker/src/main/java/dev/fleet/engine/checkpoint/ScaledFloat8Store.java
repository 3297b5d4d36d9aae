package dev.fleet.engine.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A transformer checkpoint's parameters with their storage encoding understood: plain tensors (F32,
 * F16, BF16, float8 e4m3fn or e5m2, biases and norm scales included) and ComfyUI's scaled float8,
 * whose value is the stored float8 times a per-tensor scale. Both of ComfyUI's spellings are read:
 *
 * <ul>
 *   <li>"scaled fp8" (2024): a marker tensor {@code scaled_fp8} (float8, shape [0], or [2] to ask
 *       for full-precision matmuls) and per layer {@code <layer>.scale_weight} (F32 scalar), W =
 *       fp8 · scale_weight; {@code <layer>.scale_input} only matters for float8 matmuls;
 *   <li>quantized layers (2025): {@code <layer>.weight_scale} (F32 scalar) and {@code
 *       <layer>.input_scale}, the layer's format in {@code <layer>.comfy_quant} (uint8 bytes of
 *       JSON such as {@code {"format":"float8_e4m3fn"}}) or in the header's {@code
 *       _quantization_metadata} ({@code {"layers":{"<layer>":{"format":...}}}}); the weight may be
 *       stored in a uint8 container, its format then says which float8 it is.
 * </ul>
 *
 * The quantization tensors are not part of the view: {@link #valueScale} gives a weight's scale
 * (read when first asked for, so that a plan can be made from the header alone), {@link #entry} its
 * float8 dtype. Anything else is refused at construction, naming the tensor: an unknown format, a
 * scale that is not one number per tensor, a tensor that is no parameter, an integer tensor without
 * a float8 format. Nothing is ignored.
 */
public final class ScaledFloat8Store implements TensorStore {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The marker tensor of ComfyUI's "scaled fp8" files. */
  static final String SCALED_FP8_MARKER = "scaled_fp8";

  /** Header entry listing the quantized layers and their formats. */
  static final String QUANTIZATION_METADATA = "_quantization_metadata";

  private static final List<String> WEIGHT_SCALES = List.of(".scale_weight", ".weight_scale");
  private static final List<String> INPUT_SCALES = List.of(".scale_input", ".input_scale");
  private static final String COMFY_QUANT = ".comfy_quant";

  /** Quantization tensors of recipes the engine cannot widen: refused by name. */
  private static final List<String> UNSUPPORTED_SUFFIXES =
      List.of(".weight_scale_2", ".pre_quant_scale", ".absmax", ".quant_map", ".quant_state");

  /** Name endings of the parameters of FLUX transformers (BFL and diffusers). */
  private static final List<String> PARAMETER_SUFFIXES = List.of(".weight", ".bias", ".scale");

  private final TensorStore base;
  private final Set<String> parameters;
  private final Map<String, DType> float8Containers;
  private final Map<String, String> scaleTensors;
  private final Map<String, Float> scales = new ConcurrentHashMap<>();
  private final boolean scaledFp8Marker;
  private final int quantizedLayers;

  private ScaledFloat8Store(
      TensorStore base,
      Set<String> parameters,
      Map<String, DType> float8Containers,
      Map<String, String> scaleTensors,
      boolean scaledFp8Marker,
      int quantizedLayers) {
    this.base = base;
    this.parameters = parameters;
    this.float8Containers = float8Containers;
    this.scaleTensors = scaleTensors;
    this.scaledFp8Marker = scaledFp8Marker;
    this.quantizedLayers = quantizedLayers;
  }

  /**
   * Reads the encoding of every tensor of {@code base} (header only, plus the few bytes of any
   * {@code comfy_quant} tensors). Closing the view closes {@code base}.
   *
   * @param filePrefix the prefix the tensors carry in the file (e.g. {@code
   *     model.diffusion_model.}), which {@code _quantization_metadata} may name layers with; "" for
   *     none
   * @throws SafetensorsException naming the tensor whose encoding is not understood
   */
  public static ScaledFloat8Store of(TensorStore base, String filePrefix) {
    return of(base, filePrefix, true);
  }

  /**
   * As {@link #of(TensorStore, String)}; {@code transformer} false for another component (an
   * encoder of an all-in-one file), whose tensors may have other names and dtypes (e.g. CLIP's
   * int64 {@code position_ids}): only their quantization is checked.
   */
  public static ScaledFloat8Store of(TensorStore base, String filePrefix, boolean transformer) {
    String where = base.describe();
    Set<String> names = base.names();
    Set<String> parameters = new LinkedHashSet<>();
    Map<String, String> scaleTensors = new LinkedHashMap<>();
    Map<String, String> formats = new LinkedHashMap<>();
    boolean marker = false;
    for (String name : names) {
      if (name.equals(SCALED_FP8_MARKER)) {
        TensorEntry e = base.entry(name);
        if (!e.dtype().isFloat8() || e.elements() > 2) {
          throw new SafetensorsException(
              where,
              name,
              "a scaled_fp8 marker must be a float8 tensor of 0 or 2 elements, got " + e);
        }
        marker = true;
        continue;
      }
      String unsupported = part(name, UNSUPPORTED_SUFFIXES);
      if (unsupported != null) {
        throw new SafetensorsException(
            where,
            name,
            "encoding not understood: '"
                + unsupported
                + "' belongs to a quantization recipe the engine cannot widen (NVFP4 double"
                + " scaling, AWQ smoothing or bitsandbytes NF4); use a bf16 or float8 checkpoint");
      }
      String weightScale = suffix(name, WEIGHT_SCALES);
      if (weightScale != null) {
        String weight = owner(base, name, weightScale);
        requireScalar(base, name);
        String previous = scaleTensors.put(weight, name);
        if (previous != null) {
          throw new SafetensorsException(
              where, name, "second scale for " + weight + " (also " + previous + ")");
        }
        continue;
      }
      String inputScale = suffix(name, INPUT_SCALES);
      if (inputScale != null) {
        owner(base, name, inputScale); // matters for float8 matmuls only; widening ignores it
        continue;
      }
      if (name.endsWith(COMFY_QUANT)) {
        String weight = owner(base, name, COMFY_QUANT);
        formats.put(weight, comfyQuantFormat(base, name));
        continue;
      }
      if (transformer && suffix(name, PARAMETER_SUFFIXES) == null) {
        throw new SafetensorsException(
            where,
            name,
            "neither a transformer parameter (.weight, .bias, .scale) nor a quantization tensor"
                + " the engine knows (scaled_fp8, .scale_weight, .weight_scale, .input_scale,"
                + " .scale_input, .comfy_quant)");
      }
      parameters.add(name);
    }
    metadataFormats(base, filePrefix, formats);

    Map<String, DType> containers = new LinkedHashMap<>();
    for (var f : formats.entrySet()) {
      String weight = f.getKey();
      String layer = weight.substring(0, weight.length() - ".weight".length());
      DType declared =
          switch (f.getValue()) {
            case "float8_e4m3fn" -> DType.F8_E4M3;
            case "float8_e5m2" -> DType.F8_E5M2;
            default ->
                throw new SafetensorsException(
                    where,
                    layer,
                    "quantization format '"
                        + f.getValue()
                        + "' is not supported (supported: float8_e4m3fn, float8_e5m2, each with"
                        + " one scale per tensor); use a bf16 or float8 checkpoint");
          };
      if (!parameters.contains(weight)) {
        throw new SafetensorsException(
            where, weight, "missing tensor (its layer is declared " + f.getValue() + ")");
      }
      DType stored = base.entry(weight).dtype();
      if (stored == DType.U8 || stored == DType.I8) {
        containers.put(weight, declared);
      } else if (stored != declared) {
        throw new SafetensorsException(
            where, weight, "stored as " + stored + " but its layer is declared " + f.getValue());
      }
    }
    for (String p : parameters) {
      DType t = containers.getOrDefault(p, base.entry(p).dtype());
      if (transformer && !t.isFloating()) {
        throw new SafetensorsException(
            where,
            p,
            "encoding not understood: "
                + t
                + " without a float8 format (packed integer quantizations such as int8, NF4 or"
                + " GGUF's are not supported); use a bf16 or float8 checkpoint");
      }
    }
    for (String weight : scaleTensors.keySet()) {
      if (!parameters.contains(weight)) {
        throw new SafetensorsException(
            where, scaleTensors.get(weight), "scale of a missing tensor " + weight);
      }
    }
    return new ScaledFloat8Store(
        base,
        Collections.unmodifiableSet(parameters),
        containers,
        scaleTensors,
        marker,
        formats.size());
  }

  /** The one of {@code suffixes} that {@code name} ends with, or null. */
  private static String suffix(String name, List<String> suffixes) {
    for (String s : suffixes) {
      if (name.endsWith(s)) {
        return s;
      }
    }
    return null;
  }

  /** The one of {@code parts} that {@code name} ends with or holds before a dot, or null. */
  private static String part(String name, List<String> parts) {
    for (String s : parts) {
      if (name.endsWith(s) || name.contains(s + ".")) {
        return s;
      }
    }
    return null;
  }

  /** {@code <layer>.weight} of a quantization tensor {@code <layer><suffix>}, which must exist. */
  private static String owner(TensorStore base, String name, String suffix) {
    String weight = name.substring(0, name.length() - suffix.length()) + ".weight";
    if (!base.contains(weight)) {
      throw new SafetensorsException(
          base.describe(), name, "quantization tensor of a missing weight " + weight);
    }
    return weight;
  }

  private static void requireScalar(TensorStore base, String name) {
    TensorEntry e = base.entry(name);
    if (e.elements() != 1) {
      throw new SafetensorsException(
          base.describe(),
          name,
          "encoding not understood: a scale of shape "
              + Arrays.toString(e.shape())
              + " (per-channel or per-block scaling); the engine widens float8 with one scale per"
              + " tensor");
    }
    if (e.dtype() != DType.F32 && e.dtype() != DType.F16 && e.dtype() != DType.BF16) {
      throw new SafetensorsException(
          base.describe(), name, "a scale must be F32, F16 or BF16, got " + e.dtype());
    }
  }

  /** The {@code format} of a {@code comfy_quant} tensor: uint8 (or int8) bytes of JSON. */
  private static String comfyQuantFormat(TensorStore base, String name) {
    TensorEntry e = base.entry(name);
    if (e.dtype() != DType.U8 && e.dtype() != DType.I8) {
      throw new SafetensorsException(
          base.describe(), name, "comfy_quant must hold the bytes of a JSON object, got " + e);
    }
    ByteBuffer b = base.bytes(name).duplicate();
    byte[] text = new byte[b.remaining()];
    b.get(text);
    return format(base, name, new String(text, StandardCharsets.UTF_8));
  }

  private static String format(TensorStore base, String name, String json) {
    JsonNode n;
    try {
      n = JSON.readTree(json);
    } catch (IOException e) {
      throw new SafetensorsException(
          base.describe(), name, "quantization JSON is invalid: " + json);
    }
    if (n == null || !n.isObject() || !n.path("format").isTextual()) {
      throw new SafetensorsException(
          base.describe(), name, "quantization JSON names no format: " + json);
    }
    return n.get("format").asText();
  }

  /** Layers the header's {@code _quantization_metadata} declares, by their weight's name. */
  private static void metadataFormats(
      TensorStore base, String filePrefix, Map<String, String> formats) {
    String json = base.metadata().get(QUANTIZATION_METADATA);
    if (json == null) {
      return;
    }
    JsonNode layers;
    try {
      layers = JSON.readTree(json).path("layers");
    } catch (IOException e) {
      throw new SafetensorsException(
          base.describe(), QUANTIZATION_METADATA, "header entry is not valid JSON");
    }
    if (!layers.isObject()) {
      throw new SafetensorsException(
          base.describe(), QUANTIZATION_METADATA, "header entry has no \"layers\" object");
    }
    for (var it = layers.fields(); it.hasNext(); ) {
      var layer = it.next();
      String name = layer.getKey();
      if (!filePrefix.isEmpty() && name.startsWith(filePrefix)) {
        name = name.substring(filePrefix.length());
      } else if (!filePrefix.isEmpty() && !base.contains(name + ".weight")) {
        continue; // another component of an all-in-one file
      }
      String format = format(base, QUANTIZATION_METADATA + "/" + name, layer.getValue().toString());
      String weight = name + ".weight";
      String previous = formats.putIfAbsent(weight, format);
      if (previous != null && !previous.equals(format)) {
        throw new SafetensorsException(
            base.describe(),
            name,
            "declared "
                + previous
                + " by its comfy_quant but "
                + format
                + " in "
                + QUANTIZATION_METADATA);
      }
    }
  }

  /** True when the file is ComfyUI scaled float8 (the marker, or any per-tensor scale). */
  public boolean isScaled() {
    return scaledFp8Marker || !scaleTensors.isEmpty();
  }

  /** Layers with a declared quantization format (comfy_quant or header metadata). */
  public int quantizedLayers() {
    return quantizedLayers;
  }

  /** Weights that carry a scale. */
  public int scaledTensors() {
    return scaleTensors.size();
  }

  @Override
  public Set<String> names() {
    return parameters;
  }

  @Override
  public boolean contains(String name) {
    return parameters.contains(name);
  }

  @Override
  public TensorEntry entry(String name) {
    if (!parameters.contains(name)) {
      throw new SafetensorsException(describe(), name, "missing tensor");
    }
    TensorEntry e = base.entry(name);
    DType container = float8Containers.get(name);
    return container == null
        ? e
        : new TensorEntry(e.file(), e.name(), container, e.shape(), e.begin(), e.end());
  }

  @Override
  public ByteBuffer bytes(String name) {
    entry(name);
    return base.bytes(name);
  }

  @Override
  public float valueScale(String name) {
    entry(name);
    String scale = scaleTensors.get(name);
    if (scale == null) {
      return base.valueScale(name);
    }
    return scales.computeIfAbsent(name, n -> readScale(scale) * base.valueScale(n));
  }

  private float readScale(String name) {
    TensorEntry e = base.entry(name);
    ByteBuffer b = base.bytes(name).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int at = b.position();
    float v =
        switch (e.dtype()) {
          case F32 -> b.getFloat(at);
          case F16 -> Float.float16ToFloat(b.getShort(at));
          case BF16 -> Float.intBitsToFloat((b.getShort(at) & 0xffff) << 16);
          default -> throw new SafetensorsException(describe(), name, "scale dtype " + e.dtype());
        };
    if (!Float.isFinite(v) || v == 0f) {
      throw new SafetensorsException(
          base.describe(), name, "scale " + v + " is not a finite, non-zero number");
    }
    return v;
  }

  @Override
  public Map<String, String> metadata() {
    return base.metadata();
  }

  @Override
  public String describe() {
    return base.describe();
  }

  @Override
  public void close() {
    base.close();
  }
}
