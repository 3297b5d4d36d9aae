package dev.fleet.engine.lora;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes small random LoRA files for the tiny model (hidden 64, mlp 256, 2 double and 2 single
 * blocks) in each layout, and computes, independently of the engine's reader, the update each one
 * makes to BFL's weights: {@code expected} maps a BFL layer to its dense (out, in) float32 delta.
 * Given other shapes, the same for another model's layers (NewBie's).
 */
public final class LoraFiles {
  static final int H = 64;
  static final int MLP = 256;

  private final Random random;
  private final SafetensorsWriter writer = new SafetensorsWriter();
  final Map<String, float[]> expected = new HashMap<>();
  private final Map<String, int[]> shapes;
  private final float magnitude;
  private DType dtype = DType.F32;

  LoraFiles(long seed, float magnitude) {
    this(seed, magnitude, DitShapes.tiny());
  }

  /** Files for another model whose layers have these (out, in) shapes, by the model's own names. */
  public LoraFiles(long seed, float magnitude, Map<String, int[]> shapes) {
    this.random = new Random(seed);
    this.magnitude = magnitude;
    this.shapes = shapes;
  }

  /** Each layer's dense (out, in) float32 update, by the model's name, at strength 1. */
  public Map<String, float[]> expected() {
    return expected;
  }

  public LoraFiles dtype(DType d) {
    this.dtype = d;
    return this;
  }

  /**
   * One module of the file: random factors {@code down} (rank, in) and {@code up} (out, rank)
   * stored under {@code downKey} / {@code upKey} (and {@code alphaKey} when alpha is not NaN),
   * landing on rows {@code [row, row+out)} of the BFL layer (halves of the up rows swapped when
   * {@code swap}).
   */
  public LoraFiles module(
      String downKey,
      String upKey,
      String alphaKey,
      float alpha,
      int rank,
      int in,
      int out,
      String bfl,
      int row,
      boolean swap,
      double scaleOverride) {
    float[] down = randoms(rank * in, magnitude);
    float[] up = randoms(out * rank, magnitude);
    put(downKey, new long[] {rank, in}, down);
    put(upKey, new long[] {out, rank}, up);
    double scale = 1;
    if (!Float.isNaN(alpha)) {
      writer.addFloats(alphaKey, new long[] {}, new float[] {alpha});
      scale = alpha / rank;
    }
    if (!Double.isNaN(scaleOverride)) {
      scale = scaleOverride;
    }
    float[] down2 = stored(down);
    float[] up2 = stored(up);
    int[] s = shapes.get(bfl);
    float[] d = expected.computeIfAbsent(bfl, k -> new float[s[0] * s[1]]);
    for (int o = 0; o < out; o++) {
      int target = row + (swap ? (o + out / 2) % out : o);
      for (int i = 0; i < in; i++) {
        double v = 0;
        for (int r = 0; r < rank; r++) {
          v += (double) up2[o * rank + r] * down2[r * in + i];
        }
        d[target * s[1] + i] += (float) (scale * v);
      }
    }
    return this;
  }

  /** A module with its own key (no effect on {@link #expected}). */
  public LoraFiles raw(String key, long[] shape, float[] values) {
    writer.addFloats(key, shape, values);
    return this;
  }

  public LoraFiles metadata(String key, String value) {
    writer.metadata(key, value);
    return this;
  }

  public Path write(Path file) {
    try {
      writer.write(file);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private float[] randoms(int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (random.nextGaussian() * scale);
    }
    return v;
  }

  private void put(String key, long[] shape, float[] values) {
    switch (dtype) {
      case F32 -> writer.addFloats(key, shape, values);
      case F16, BF16 -> {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
          b.putShort(
              dtype == DType.F16
                  ? Float.floatToFloat16(v)
                  : (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        writer.add(key, dtype, shape, b.array());
      }
      default -> throw new IllegalArgumentException(dtype.toString());
    }
  }

  /** The values as the file holds them (rounded to its dtype). */
  private float[] stored(float[] v) {
    float[] s = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      s[i] =
          switch (dtype) {
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v[i]));
            case BF16 -> Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & 0xffff0000);
            default -> v[i];
          };
    }
    return s;
  }

  // ---- whole files in each layout, covering every kind of layer ----

  /** kohya: every layer kind of block 0 and 1, the globals, alpha on most modules. */
  public static LoraFiles kohya(long seed, float magnitude) {
    LoraFiles f = new LoraFiles(seed, magnitude).dtype(DType.F16);
    int r = 4;
    for (String bfl : DitShapes.tiny().keySet()) {
      int[] s = DitShapes.tiny().get(bfl);
      String k = "lora_unet_" + bfl.replace('.', '_');
      float alpha = bfl.contains("mlp") ? Float.NaN : 8f;
      f.module(
          k + ".lora_down.weight",
          k + ".lora_up.weight",
          k + ".alpha",
          alpha,
          r,
          s[1],
          s[0],
          bfl,
          0,
          false,
          Double.NaN);
    }
    return f;
  }

  /** BFL / ComfyUI native: {@code diffusion_model.} + BFL names, lora_A/B, some alphas. */
  static LoraFiles bfl(long seed, float magnitude) {
    LoraFiles f = new LoraFiles(seed, magnitude).dtype(DType.BF16);
    int i = 0;
    for (String bfl : DitShapes.tiny().keySet()) {
      int[] s = DitShapes.tiny().get(bfl);
      String k = "diffusion_model." + bfl;
      float alpha = i++ % 2 == 0 ? 2f : Float.NaN;
      f.module(
          k + ".lora_A.weight",
          k + ".lora_B.weight",
          k + ".alpha",
          alpha,
          3,
          s[1],
          s[0],
          bfl,
          0,
          false,
          Double.NaN);
    }
    return f;
  }

  /**
   * diffusers / PEFT: split q/k/v and proj_mlp onto row slices, norm_out swapped, every other kind
   * of layer; scale from the {@code lora_adapter_metadata} header (alpha 8, r 4 → 2).
   */
  static LoraFiles diffusers(long seed, float magnitude) {
    LoraFiles f = new LoraFiles(seed, magnitude);
    f.metadata("lora_adapter_metadata", "{\"transformer.r\": 4, \"transformer.lora_alpha\": 8}");
    double scale = 2;
    for (int b = 0; b < 2; b++) {
      String d = "transformer.transformer_blocks." + b + ".";
      String bb = "double_blocks." + b + ".";
      String[][] split = {
        {"attn.to_q", "img_attn.qkv", "0"},
        {"attn.to_k", "img_attn.qkv", "1"},
        {"attn.to_v", "img_attn.qkv", "2"},
        {"attn.add_q_proj", "txt_attn.qkv", "0"},
        {"attn.add_k_proj", "txt_attn.qkv", "1"},
        {"attn.add_v_proj", "txt_attn.qkv", "2"},
        {"attn.to_out.0", "img_attn.proj", "0"},
        {"attn.to_add_out", "txt_attn.proj", "0"},
        {"ff.net.0.proj", "img_mlp.0", "0"},
        {"ff.net.2", "img_mlp.2", "0"},
        {"ff_context.net.0.proj", "txt_mlp.0", "0"},
        {"ff_context.net.2", "txt_mlp.2", "0"},
        {"norm1.linear", "img_mod.lin", "0"},
        {"norm1_context.linear", "txt_mod.lin", "0"},
      };
      for (String[] m : split) {
        int[] s = DitShapes.tiny().get(bb + m[1]);
        boolean slice = m[1].endsWith("qkv");
        f.peft(
            d + m[0],
            4,
            s[1],
            slice ? H : s[0],
            bb + m[1],
            Integer.parseInt(m[2]) * H,
            false,
            scale);
      }
      String sd = "transformer.single_transformer_blocks." + b + ".";
      String sb = "single_blocks." + b + ".";
      f.peft(sd + "attn.to_q", 4, H, H, sb + "linear1", 0, false, scale);
      f.peft(sd + "attn.to_k", 4, H, H, sb + "linear1", H, false, scale);
      f.peft(sd + "attn.to_v", 4, H, H, sb + "linear1", 2 * H, false, scale);
      f.peft(sd + "proj_mlp", 4, H, MLP, sb + "linear1", 3 * H, false, scale);
      f.peft(sd + "proj_out", 4, H + MLP, H, sb + "linear2", 0, false, scale);
      f.peft(sd + "norm.linear", 4, H, 3 * H, sb + "modulation.lin", 0, false, scale);
    }
    f.peft("transformer.x_embedder", 4, 64, H, "img_in", 0, false, scale);
    f.peft("transformer.context_embedder", 4, 64, H, "txt_in", 0, false, scale);
    f.peft(
        "transformer.time_text_embed.timestep_embedder.linear_1",
        4,
        256,
        H,
        "time_in.in_layer",
        0,
        false,
        scale);
    f.peft(
        "transformer.time_text_embed.guidance_embedder.linear_2",
        4,
        H,
        H,
        "guidance_in.out_layer",
        0,
        false,
        scale);
    f.peft(
        "transformer.time_text_embed.text_embedder.linear_1",
        4,
        32,
        H,
        "vector_in.in_layer",
        0,
        false,
        scale);
    f.peft("transformer.proj_out", 4, H, 64, "final_layer.linear", 0, false, scale);
    f.peft(
        "transformer.norm_out.linear",
        4,
        H,
        2 * H,
        "final_layer.adaLN_modulation.1",
        0,
        true,
        scale);
    return f;
  }

  private LoraFiles peft(
      String module, int rank, int in, int out, String bfl, int row, boolean swap, double scale) {
    return module(
        module + ".lora_A.weight",
        module + ".lora_B.weight",
        null,
        Float.NaN,
        rank,
        in,
        out,
        bfl,
        row,
        swap,
        scale);
  }

  /** XLabs: the processors' qkv and proj LoRAs of double and single blocks, scale 1. */
  static LoraFiles xlabs(long seed, float magnitude) {
    LoraFiles f = new LoraFiles(seed, magnitude);
    for (int b = 0; b < 2; b++) {
      String p = "double_blocks." + b + ".processor.";
      String bb = "double_blocks." + b + ".";
      f.xl(p + "qkv_lora1", 3 * H, H, bb + "img_attn.qkv");
      f.xl(p + "qkv_lora2", 3 * H, H, bb + "txt_attn.qkv");
      f.xl(p + "proj_lora1", H, H, bb + "img_attn.proj");
      f.xl(p + "proj_lora2", H, H, bb + "txt_attn.proj");
      String sp = "single_blocks." + b + ".processor.";
      f.xl(sp + "qkv_lora", 3 * H, H, "single_blocks." + b + ".linear1");
      // reads the attention output only: the first H inputs of linear2
      f.xl(sp + "proj_lora", H, H, "single_blocks." + b + ".linear2");
    }
    return f;
  }

  private void xl(String module, int out, int in, String bfl) {
    module(
        module + ".down.weight",
        module + ".up.weight",
        null,
        Float.NaN,
        4,
        in,
        out,
        bfl,
        0,
        false,
        Double.NaN);
  }
}
