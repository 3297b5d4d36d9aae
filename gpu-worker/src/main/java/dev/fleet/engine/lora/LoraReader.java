package dev.fleet.engine.lora;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.SafetensorsFile;
import dev.fleet.engine.safetensors.TensorEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a LoRA safetensors file for FLUX or NewBie-image's Next-DiT in any of the {@link
 * LoraFormat}s, recognised key by key, into a {@link LoraAdapter} in the model's own layer names
 * (BFL's for FLUX, NewBie's {@code models/model.py} names for the Next-DiT: a file is read as a
 * Next-DiT LoRA when some module, past its prefix, names a Next-DiT block or embedder, see {@link
 * NextDitModules}). Every key must be understood: a file with keys that map to no layer (LoKr /
 * LoHa, DoRA magnitudes, bias or norm differences, another model's layers, T5 text-encoder
 * adapters) is refused with the keys named, never applied in part.
 *
 * <p>CLIP text-encoder modules (kohya {@code
 * lora_te1_text_model_encoder_layers_N_self_attn_q_proj}, diffusers/PEFT {@code
 * text_encoder.text_model.encoder.layers.N.self_attn.q_proj}) become patches of {@link
 * LoraPatch#CLIP}{@code encoder.layers.N.self_attn.q_proj}; T5 ones ({@code lora_te2_}, {@code
 * text_encoder_2.}) are refused.
 *
 * <p>The scale of an update is {@code alpha / rank} with the module's {@code .alpha} tensor, else
 * with PEFT's {@code lora_adapter_metadata} header entry, else 1.
 */
public final class LoraReader {
  private LoraReader() {}

  private enum Role {
    DOWN,
    UP,
    ALPHA
  }

  /** Key endings, longest first, and what they hold. */
  private static final Map<String, Role> SUFFIXES = new LinkedHashMap<>();

  static {
    SUFFIXES.put(".lora_A.default.weight", Role.DOWN);
    SUFFIXES.put(".lora_B.default.weight", Role.UP);
    SUFFIXES.put(".lora_down.weight", Role.DOWN);
    SUFFIXES.put(".lora_up.weight", Role.UP);
    SUFFIXES.put(".lora_A.weight", Role.DOWN);
    SUFFIXES.put(".lora_B.weight", Role.UP);
    SUFFIXES.put(".down.weight", Role.DOWN);
    SUFFIXES.put(".up.weight", Role.UP);
    SUFFIXES.put(".alpha", Role.ALPHA);
  }

  /** The file's keys of one module. */
  private static final class Module {
    final String name;
    final Map<Role, String> keys = new LinkedHashMap<>();
    LoraTarget target;
    LoraFormat format;

    Module(String name) {
      this.name = name;
    }
  }

  /** Reads {@code file}; the adapter is named after the file. */
  public static LoraAdapter read(Path file) {
    String n = file.getFileName().toString();
    return read(file, n.endsWith(".safetensors") ? n.substring(0, n.length() - 12) : n);
  }

  /**
   * Reads {@code file} as the adapter {@code name}.
   *
   * @throws UnsupportedLoraException when the file is no LoRA the engine understands
   */
  public static LoraAdapter read(Path file, String name) {
    String where = file.toString();
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      Map<String, Module> modules = new LinkedHashMap<>();
      List<String> t5 = new ArrayList<>();
      List<String> unknown = new ArrayList<>();
      for (String key : f.names()) {
        if (isT5Key(key)) {
          t5.add(key);
          continue;
        }
        Map.Entry<String, Role> suffix = suffixOf(key);
        if (suffix == null) {
          unknown.add(key);
          continue;
        }
        String module = key.substring(0, key.length() - suffix.getKey().length());
        Module m = modules.computeIfAbsent(module, Module::new);
        if (m.keys.put(suffix.getValue(), key) != null) {
          unknown.add(key); // two spellings of one factor
        }
      }
      boolean nextDit = modules.keySet().stream().anyMatch(LoraReader::marksNextDit);
      for (Module m : modules.values()) {
        if (nextDit) {
          resolveNextDit(m);
        } else {
          resolve(m);
        }
        if (m.target == null) {
          unknown.addAll(m.keys.values());
        }
      }
      if (!t5.isEmpty()) {
        throw new UnsupportedLoraException(
            where
                + ": T5 text-encoder LoRA keys (lora_te2_ / text_encoder_2.) are not supported,"
                + " only the DiT's and CLIP's (lora_te1_ / text_encoder.): "
                + sample(t5));
      }
      if (!unknown.isEmpty()) {
        throw new UnsupportedLoraException(
            where + ": keys not understood: " + sample(unknown) + hint(unknown));
      }
      if (modules.isEmpty()) {
        throw new UnsupportedLoraException(where + ": no LoRA keys (an empty file)");
      }
      LoraMetadata metadata = LoraMetadata.of(f.metadata(), where);
      List<LoraPatch> patches = new ArrayList<>(modules.size());
      LoraFormat format = null;
      for (Module m : modules.values()) {
        patches.add(patch(f, where, m, metadata));
        format = format == null ? m.format : format;
      }
      return new LoraAdapter(name, format, patches);
    } catch (SafetensorsException e) {
      throw new UnsupportedLoraException(
          where + ": not a readable safetensors LoRA: " + e.getMessage(), e);
    }
  }

  private static boolean isT5Key(String key) {
    return key.startsWith("lora_te2_") || key.startsWith("text_encoder_2.");
  }

  private static final java.util.regex.Pattern KOHYA_CLIP =
      java.util.regex.Pattern.compile(
          "lora_te1_text_model_encoder_layers_(\\d+)_(self_attn_(?:q|k|v|out)_proj|mlp_fc[12])");

  private static final java.util.regex.Pattern PEFT_CLIP =
      java.util.regex.Pattern.compile(
          "text_encoder\\.(?:text_model\\.)?encoder\\.layers\\.(\\d+)\\."
              + "(self_attn\\.(?:q|k|v|out)_proj|mlp\\.fc[12])");

  /** The CLIP layer of a text-encoder module name, or null when it is none. */
  private static LoraTarget clipTarget(String n) {
    java.util.regex.Matcher k = KOHYA_CLIP.matcher(n);
    if (k.matches()) {
      String layer = k.group(2).replaceFirst("^self_attn_", "self_attn.").replace("mlp_", "mlp.");
      return LoraTarget.whole(LoraPatch.CLIP + "encoder.layers." + k.group(1) + "." + layer);
    }
    java.util.regex.Matcher p = PEFT_CLIP.matcher(n);
    if (p.matches()) {
      return LoraTarget.whole(LoraPatch.CLIP + "encoder.layers." + p.group(1) + "." + p.group(2));
    }
    return null;
  }

  private static Map.Entry<String, Role> suffixOf(String key) {
    for (Map.Entry<String, Role> e : SUFFIXES.entrySet()) {
      if (key.endsWith(e.getKey())) {
        return e;
      }
    }
    return null;
  }

  /** Module-name prefixes of the DiT in the layouts read, longest first. */
  private static final String[] DIT_PREFIXES = {
    "lora_transformer_",
    "model.diffusion_model.",
    "diffusion_model.",
    "base_model.model.",
    "transformer.",
    "lora_unet_"
  };

  /** True when a module name, past any DiT prefix, names a layer of a Next-DiT. */
  private static boolean marksNextDit(String n) {
    return NextDitModules.marks(strip(n, DIT_PREFIXES));
  }

  /**
   * Sets the module's Next-DiT target and format: kohya's {@code lora_unet_} underscored names,
   * diffusers' Lumina 2 names (under {@code transformer.}, {@code base_model.model.}, {@code
   * lora_transformer_} or bare), or NewBie's own names (under {@code diffusion_model.}, PEFT's
   * {@code base_model.model.}, or bare).
   */
  private static void resolveNextDit(Module m) {
    String n = m.name;
    if (n.startsWith("lora_te") || n.startsWith("text_encoder")) {
      set(m, clipTarget(n), n.startsWith("lora_te") ? LoraFormat.KOHYA : LoraFormat.DIFFUSERS);
      return;
    }
    if (n.startsWith("lora_unet_")) {
      String own = NextDitModules.fromUnderscored(n.substring("lora_unet_".length()));
      set(m, own == null ? null : LoraTarget.whole(own), LoraFormat.KOHYA);
      return;
    }
    if (n.startsWith("lora_transformer_")) {
      set(
          m,
          NextDitModules.fromDiffusers(n.substring("lora_transformer_".length()), true),
          LoraFormat.DIFFUSERS);
      return;
    }
    if (m.keys.values().stream()
        .allMatch(k -> k.endsWith(".down.weight") || k.endsWith(".up.weight"))) {
      return; // .down/.up belong to FLUX XLabs' processors only
    }
    String bare =
        strip(n, "model.diffusion_model.", "diffusion_model.", "base_model.model.", "transformer.");
    // Under transformer. the names are diffusers' (ComfyUI also reads NewBie's own there).
    boolean diffusers = n.startsWith("transformer.");
    if (!diffusers && NextDitModules.isLinear(bare)) {
      set(m, LoraTarget.whole(bare), LoraFormat.NATIVE);
      return;
    }
    LoraTarget t = NextDitModules.fromDiffusers(bare, false);
    if (t == null && NextDitModules.isLinear(bare)) {
      t = LoraTarget.whole(bare);
    }
    set(m, t, LoraFormat.DIFFUSERS);
  }

  /** Sets the module's BFL target and format from its spelling (null target: not understood). */
  private static void resolve(Module m) {
    String n = m.name;
    boolean xlabsFactors =
        m.keys.values().stream()
            .allMatch(k -> k.endsWith(".down.weight") || k.endsWith(".up.weight"));
    if (n.startsWith("lora_te") || n.startsWith("text_encoder")) {
      set(m, clipTarget(n), n.startsWith("lora_te") ? LoraFormat.KOHYA : LoraFormat.DIFFUSERS);
      return;
    }
    if (n.startsWith("lora_unet_")) {
      String bfl = BflModules.fromUnderscored(n.substring("lora_unet_".length()));
      set(m, bfl == null ? null : LoraTarget.whole(bfl), LoraFormat.KOHYA);
      return;
    }
    if (n.startsWith("lora_transformer_")) {
      set(
          m,
          DiffusersModules.map(n.substring("lora_transformer_".length()), true),
          LoraFormat.DIFFUSERS);
      return;
    }
    String bare = strip(n, "model.diffusion_model.", "diffusion_model.");
    if (bare.contains(".processor.")) {
      set(m, xlabsFactors ? XLabsModules.map(bare) : null, LoraFormat.XLABS);
      return;
    }
    if (xlabsFactors) {
      return; // .down/.up belong to XLabs' processors only
    }
    if (!bare.equals(n) || BflModules.isLinear(n)) {
      set(m, BflModules.isLinear(bare) ? LoraTarget.whole(bare) : null, LoraFormat.NATIVE);
      return;
    }
    String diffusers = strip(strip(n, "base_model.model."), "transformer.");
    set(m, DiffusersModules.map(diffusers, false), LoraFormat.DIFFUSERS);
  }

  private static void set(Module m, LoraTarget target, LoraFormat format) {
    m.target = target;
    m.format = format;
  }

  private static String strip(String s, String... prefixes) {
    for (String p : prefixes) {
      if (s.startsWith(p)) {
        return s.substring(p.length());
      }
    }
    return s;
  }

  private static LoraPatch patch(SafetensorsFile f, String where, Module m, LoraMetadata metadata) {
    String downKey = m.keys.get(Role.DOWN);
    String upKey = m.keys.get(Role.UP);
    if (downKey == null || upKey == null) {
      throw new UnsupportedLoraException(
          where
              + ": module "
              + m.name
              + " has "
              + (downKey == null ? "no down (A)" : "no up (B)")
              + " factor: "
              + m.keys.values());
    }
    TensorEntry down = f.entry(downKey);
    TensorEntry up = f.entry(upKey);
    long[] ds = matrixShape(down, where);
    long[] us = matrixShape(up, where);
    if (ds[0] != us[1]) {
      throw new UnsupportedLoraException(
          where
              + ": "
              + downKey
              + " has rank "
              + ds[0]
              + " but "
              + upKey
              + " has "
              + us[1]
              + " (shapes "
              + java.util.Arrays.toString(down.shape())
              + ", "
              + java.util.Arrays.toString(up.shape())
              + ")");
    }
    int rank = (int) ds[0];
    int in = (int) ds[1];
    int out = (int) us[0];
    float[] upValues = floats(f, up, where);
    if (m.target.swapHalves()) {
      if (out % 2 != 0) {
        throw new UnsupportedLoraException(
            where
                + ": "
                + upKey
                + " has an odd number of rows "
                + out
                + ", its halves cannot be swapped");
      }
      upValues = swapHalves(upValues, out, rank);
    }
    double scale = 1;
    String alphaKey = m.keys.get(Role.ALPHA);
    if (alphaKey != null) {
      float[] alpha = floats(f, f.entry(alphaKey), where);
      if (alpha.length != 1) {
        throw new UnsupportedLoraException(where + ": " + alphaKey + " is not a scalar");
      }
      scale = alpha[0] / rank;
    } else if (metadata != null && !Double.isNaN(metadata.scale(m.name))) {
      scale = metadata.scale(m.name);
    }
    return new LoraPatch(
        m.target.module(),
        m.target.rowOffset(in, out),
        rank,
        in,
        out,
        floats(f, down, where),
        upValues,
        (float) scale,
        m.name);
  }

  private static long[] matrixShape(TensorEntry e, String where) {
    long[] s = e.shape();
    // A 1x1 convolution is a matrix too (some trainers save (r, in, 1, 1)).
    if (s.length == 4 && s[2] == 1 && s[3] == 1) {
      return new long[] {s[0], s[1]};
    }
    if (s.length != 2) {
      throw new UnsupportedLoraException(
          where
              + ": "
              + e.name()
              + " has shape "
              + java.util.Arrays.toString(s)
              + ", a LoRA factor is a matrix");
    }
    return s;
  }

  /** Up's rows with the first and second half exchanged. */
  private static float[] swapHalves(float[] up, int out, int rank) {
    float[] s = new float[up.length];
    int half = out / 2 * rank;
    System.arraycopy(up, 0, s, half, half);
    System.arraycopy(up, half, s, 0, half);
    return s;
  }

  /** A tensor's values as float32, from F32, F16, BF16 or F64. */
  private static float[] floats(SafetensorsFile f, TensorEntry e, String where) {
    int n = Math.toIntExact(e.elements());
    ByteBuffer b = f.bytes(e.name()).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[n];
    switch (e.dtype()) {
      case F32 -> {
        for (int i = 0; i < n; i++) {
          out[i] = b.getFloat(i * 4);
        }
      }
      case F16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = Float.float16ToFloat(b.getShort(i * 2));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
        }
      }
      case F64 -> {
        for (int i = 0; i < n; i++) {
          out[i] = (float) b.getDouble(i * 8);
        }
      }
      default ->
          throw new UnsupportedLoraException(
              where
                  + ": "
                  + e.name()
                  + " is "
                  + e.dtype()
                  + "; LoRA factors must be F32, F16 or BF16");
    }
    for (float v : out) {
      if (!Float.isFinite(v)) {
        throw new UnsupportedLoraException(where + ": " + e.name() + " holds a non-finite value");
      }
    }
    return out;
  }

  private static String sample(List<String> keys) {
    int shown = Math.min(keys.size(), 8);
    String s = String.join(", ", keys.subList(0, shown));
    return keys.size() > shown ? s + " … (" + keys.size() + " in all)" : s;
  }

  private static String hint(List<String> keys) {
    if (keys.stream().anyMatch(k -> k.contains("lokr_") || k.contains("hada_"))) {
      return " (LyCORIS LoKr / LoHa adapters are not supported, only LoRA)";
    }
    if (keys.stream()
        .anyMatch(k -> k.contains("dora_scale") || k.contains("lora_magnitude_vector"))) {
      return " (DoRA adapters are not supported, only LoRA)";
    }
    return " (FLUX LoRAs in the kohya, diffusers/PEFT, XLabs and BFL/ComfyUI layouts are read;"
        + " NewBie (Next-DiT) LoRAs in the kohya, diffusers Lumina 2, PEFT and ComfyUI layouts)";
  }
}
