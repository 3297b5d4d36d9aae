package dev.fleet.engine.nextdit;

import dev.fleet.engine.TensorAsserts;
import dev.fleet.engine.lora.LoraFiles;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Random LoRA files for the newbie-tiny fixture's Next-DiT in each layout NewBie users have, the
 * update each makes computed by {@link LoraFiles} (not by the engine's reader), and a copy of the
 * fixture with those updates merged into its DiT's float32 weights: the reference a LoRA run is
 * compared with. The layers' shapes are read from the fixture's own checkpoint.
 */
public final class NewbieLoraFiles {
  private NewbieLoraFiles() {}

  /** The fixture's model folder. */
  public static final Path FIXTURE = NewbieFixture.DIR;

  /** Query rows of the fixture's fused qkv (4 heads of 8) and key or value rows (2 KV heads). */
  static final int Q_ROWS = 32;

  static final int KV_ROWS = 16;

  private static final String[] GLOBALS = {
    "x_embedder",
    "t_embedder.mlp.0",
    "t_embedder.mlp.2",
    "cap_embedder.1",
    "clip_text_pooled_proj.1",
    "time_text_embed.1",
    "final_layer.linear",
    "final_layer.adaLN_modulation.1"
  };

  /** Every linear layer of the fixture's DiT (2 context-refiner, 2 noise-refiner, 2 joint). */
  public static Map<String, int[]> shapes() {
    List<String> layers = new ArrayList<>(List.of(GLOBALS));
    for (String b :
        List.of(
            "context_refiner.0",
            "context_refiner.1",
            "noise_refiner.0",
            "noise_refiner.1",
            "layers.0",
            "layers.1")) {
      for (String l :
          List.of(
              "attention.qkv",
              "attention.out",
              "feed_forward.w1",
              "feed_forward.w2",
              "feed_forward.w3")) {
        layers.add(b + "." + l);
      }
      if (!b.startsWith("context_refiner")) {
        layers.add(b + ".adaLN_modulation.1");
      }
    }
    Map<String, int[]> shapes = new LinkedHashMap<>();
    try (TensorStore s =
        TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"))) {
      for (String l : layers) {
        long[] shape = s.entry(l + ".weight").shape();
        shapes.put(l, new int[] {(int) shape[0], (int) shape[1]});
      }
    }
    return shapes;
  }

  /**
   * ComfyUI / native: {@code diffusion_model.} + NewBie's names, lora_A / lora_B, an alpha on every
   * other module; every linear layer.
   */
  public static LoraFiles comfy(long seed, float magnitude) {
    Map<String, int[]> shapes = shapes();
    LoraFiles f = new LoraFiles(seed, magnitude, shapes).dtype(DType.BF16);
    int i = 0;
    for (Map.Entry<String, int[]> e : shapes.entrySet()) {
      String k = "diffusion_model." + e.getKey();
      int[] s = e.getValue();
      float alpha = i++ % 2 == 0 ? 2f : Float.NaN;
      f.module(
          k + ".lora_A.weight",
          k + ".lora_B.weight",
          k + ".alpha",
          alpha,
          3,
          s[1],
          s[0],
          e.getKey(),
          0,
          false,
          Double.NaN);
    }
    return f;
  }

  /**
   * NewbieLoraTrainer: PEFT's state dict of NewBie's own model ({@code base_model.model.} + its
   * names), its default target modules (attention.qkv, attention.out, feed_forward.w2,
   * time_text_embed.1, clip_text_pooled_proj.1), rank and alpha as the header's {@code lora_rank}
   * and {@code lora_alpha} strings (8 and 4: scale 0.5), no alpha tensors.
   */
  public static LoraFiles peft(long seed, float magnitude) {
    Map<String, int[]> shapes = shapes();
    LoraFiles f = new LoraFiles(seed, magnitude, shapes);
    for (Map.Entry<String, int[]> e : shapes.entrySet()) {
      String l = e.getKey();
      if (!(l.endsWith("attention.qkv")
          || l.endsWith("attention.out")
          || l.endsWith("feed_forward.w2")
          || l.equals("time_text_embed.1")
          || l.equals("clip_text_pooled_proj.1"))) {
        continue;
      }
      String k = "base_model.model." + l;
      int[] s = e.getValue();
      f.module(
          k + ".lora_A.weight",
          k + ".lora_B.weight",
          null,
          Float.NaN,
          8,
          s[1],
          s[0],
          l,
          0,
          false,
          0.5);
    }
    return f.metadata("lora_rank", "8").metadata("lora_alpha", "4");
  }

  /** kohya / ComfyUI underscored: {@code lora_unet_layers_0_attention_qkv}, float16, alphas. */
  public static LoraFiles kohya(long seed, float magnitude) {
    Map<String, int[]> shapes = shapes();
    LoraFiles f = new LoraFiles(seed, magnitude, shapes).dtype(DType.F16);
    for (Map.Entry<String, int[]> e : shapes.entrySet()) {
      String k = "lora_unet_" + e.getKey().replace('.', '_');
      int[] s = e.getValue();
      f.module(
          k + ".lora_down.weight",
          k + ".lora_up.weight",
          k + ".alpha",
          e.getKey().contains("feed_forward") ? Float.NaN : 8f,
          4,
          s[1],
          s[0],
          e.getKey(),
          0,
          false,
          Double.NaN);
    }
    return f;
  }

  /**
   * diffusers' Lumina 2 names under {@code transformer.}: q, k and v apart (onto the grouped-query
   * qkv's rows 0, 32 and 48), {@code attn.to_out.0}, {@code feed_forward.linear_1/2/3}, {@code
   * norm1.linear}, {@code time_caption_embed.*}, {@code norm_out.linear_1/2}; scale from PEFT's
   * {@code lora_adapter_metadata} (alpha 8, r 4: 2).
   */
  public static LoraFiles diffusers(long seed, float magnitude) {
    Map<String, int[]> shapes = shapes();
    LoraFiles f = new LoraFiles(seed, magnitude, shapes);
    Map<String, String> globals = new LinkedHashMap<>();
    globals.put("x_embedder", "x_embedder");
    globals.put("time_caption_embed.timestep_embedder.linear_1", "t_embedder.mlp.0");
    globals.put("time_caption_embed.timestep_embedder.linear_2", "t_embedder.mlp.2");
    globals.put("time_caption_embed.caption_embedder.1", "cap_embedder.1");
    globals.put("time_caption_embed.clip_text_pooled_proj.1", "clip_text_pooled_proj.1");
    globals.put("time_caption_embed.time_text_embed.1", "time_text_embed.1");
    globals.put("norm_out.linear_1", "final_layer.adaLN_modulation.1");
    globals.put("norm_out.linear_2", "final_layer.linear");
    for (Map.Entry<String, String> g : globals.entrySet()) {
      int[] s = shapes.get(g.getValue());
      diffusersModule(f, g.getKey(), s[1], s[0], g.getValue(), 0);
    }
    for (String b :
        List.of(
            "context_refiner.0",
            "context_refiner.1",
            "noise_refiner.0",
            "noise_refiner.1",
            "layers.0",
            "layers.1")) {
      int d = shapes.get(b + ".attention.out")[0];
      diffusersModule(f, b + ".attn.to_q", d, Q_ROWS, b + ".attention.qkv", 0);
      diffusersModule(f, b + ".attn.to_k", d, KV_ROWS, b + ".attention.qkv", Q_ROWS);
      diffusersModule(f, b + ".attn.to_v", d, KV_ROWS, b + ".attention.qkv", Q_ROWS + KV_ROWS);
      int[] out = shapes.get(b + ".attention.out");
      diffusersModule(f, b + ".attn.to_out.0", out[1], out[0], b + ".attention.out", 0);
      for (int w = 1; w <= 3; w++) {
        int[] s = shapes.get(b + ".feed_forward.w" + w);
        diffusersModule(
            f, b + ".feed_forward.linear_" + w, s[1], s[0], b + ".feed_forward.w" + w, 0);
      }
      if (!b.startsWith("context_refiner")) {
        int[] s = shapes.get(b + ".adaLN_modulation.1");
        diffusersModule(f, b + ".norm1.linear", s[1], s[0], b + ".adaLN_modulation.1", 0);
      }
    }
    return f.metadata("lora_adapter_metadata", "{\"r\": 4, \"lora_alpha\": 8}");
  }

  private static void diffusersModule(
      LoraFiles f, String module, int in, int out, String layer, int row) {
    String k = "transformer." + module;
    f.module(
        k + ".lora_A.weight",
        k + ".lora_B.weight",
        null,
        Float.NaN,
        4,
        in,
        out,
        layer,
        row,
        false,
        2.0);
  }

  /**
   * A copy of the fixture's model folder (the other components linked) whose DiT has {@code Σ
   * strength · delta} added to its float32 weights, in NewBie's names.
   *
   * @param deltas per LoRA, layer → (out, in) update at strength 1
   * @param strengths one per LoRA
   */
  public static Path mergedModel(Path dir, List<Map<String, float[]>> deltas, double[] strengths)
      throws IOException {
    Files.createDirectories(dir.resolve("transformer"));
    try (var entries = Files.list(FIXTURE)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        String name = p.getFileName().toString();
        if (name.equals("vae")) {
          // SOURCE.json names a path above the fixture: link the autoencoder it names instead.
          Files.createDirectories(dir.resolve("vae"));
          Files.copy(p.resolve("config.json"), dir.resolve("vae/config.json"));
          Files.createSymbolicLink(
              dir.resolve("vae/ae.safetensors"), NewbieFixture.VAE.toAbsolutePath());
        } else if (!name.equals("transformer")) {
          Files.createSymbolicLink(dir.resolve(name), p.toAbsolutePath());
        }
      }
    }
    Files.copy(
        NewbieFixture.TRANSFORMER.resolve("config.json"), dir.resolve("transformer/config.json"));
    SafetensorsWriter w = new SafetensorsWriter();
    try (TensorStore base =
        TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"))) {
      for (String name : new TreeSet<>(base.names())) {
        TensorEntry e = base.entry(name);
        float[] v = TensorAsserts.floats(base, name);
        String layer = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
        for (int l = 0; l < deltas.size(); l++) {
          float[] d = layer == null ? null : deltas.get(l).get(layer);
          if (d == null) {
            continue;
          }
          if (d.length != v.length) {
            throw new IllegalArgumentException(
                name + ": delta of " + d.length + " for " + v.length);
          }
          for (int i = 0; i < v.length; i++) {
            v[i] += (float) (strengths[l] * d[i]);
          }
        }
        w.addFloats(name, e.shape(), v);
      }
    }
    w.write(dir.resolve("transformer/newbie.safetensors"));
    return dir;
  }
}
