package dev.fleet.engine.nextdit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes the newbie-tiny fixture's checkpoints in the layouts real distributions use: the DiT under
 * diffusers' Lumina2 names (q, k, v split), Gemma under a multimodal model's prefixes beside
 * vision-tower tensors, any checkpoint in shards with a {@code *.safetensors.index.json}. The
 * renaming follows the public conversion code (diffusers' {@code convert_lumina2_to_diffusers} in
 * {@code loaders/single_file_utils.py}, transformers' Gemma 3 checkpoint names), written here
 * independently of the engine's views, which map the other way.
 */
final class NewbieLayouts {
  private NewbieLayouts() {}

  /** One tensor to write. */
  record Tensor(String name, DType dtype, long[] shape, byte[] data) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Every tensor of {@code file}, renamed by {@code rename} (null drops it). */
  static List<Tensor> read(Path file, Function<String, String> rename) {
    List<Tensor> out = new ArrayList<>();
    try (TensorStore store = TensorStore.open(file)) {
      for (String name : new TreeSet<>(store.names())) {
        String renamed = rename.apply(name);
        if (renamed != null) {
          TensorEntry e = store.entry(name);
          out.add(new Tensor(renamed, e.dtype(), e.shape(), bytes(store.bytes(name))));
        }
      }
    }
    return out;
  }

  /**
   * The fixture's DiT file in diffusers' Lumina2 names: the renames of {@code
   * convert_lumina2_to_diffusers} applied in its order, {@code qkv} split into {@code to_q}, {@code
   * to_k}, {@code to_v} by rows [H·hd, KV·hd, KV·hd], {@code norm_final.weight} dropped.
   */
  static List<Tensor> diffusersDit(Path newbieFile, NextDitParams p) {
    List<Tensor> out = new ArrayList<>();
    for (Tensor t : read(newbieFile, NewbieLayouts::diffusersName)) {
      if (!t.name().endsWith(".attn.qkv.weight")) {
        out.add(t);
        continue;
      }
      int hd = p.headDim();
      long[] rows = {(long) p.nHeads() * hd, (long) p.nKvHeads() * hd, (long) p.nKvHeads() * hd};
      String[] parts = {"to_q", "to_k", "to_v"};
      long rowBytes = t.data().length / t.shape()[0];
      long at = 0;
      for (int i = 0; i < 3; i++) {
        byte[] slice = Arrays.copyOfRange(t.data(), (int) at, (int) (at + rows[i] * rowBytes));
        at += rows[i] * rowBytes;
        out.add(
            new Tensor(
                t.name().replace("qkv", parts[i]),
                t.dtype(),
                new long[] {rows[i], t.shape()[1]},
                slice));
      }
    }
    return out;
  }

  private static final Pattern CONTEXT_NORM =
      Pattern.compile("^context_refiner\\.(\\d+)\\.attention_norm1");

  /** A NewBie DiT key under diffusers' name, or null for the unused {@code norm_final}. */
  static String diffusersName(String key) {
    if (key.equals("norm_final.weight")) {
      return null;
    }
    Matcher m = CONTEXT_NORM.matcher(key);
    String k = m.find() ? m.replaceFirst("context_refiner.$1.norm1") : key;
    k = k.replace("final_layer.adaLN_modulation.1", "norm_out.linear_1");
    k = k.replace("final_layer.linear", "norm_out.linear_2");
    k = k.replace("attention_norm1", "norm1.norm");
    k = k.replace("attention_norm2", "norm2");
    String[][] renames = {
      {"cap_embedder", "time_caption_embed.caption_embedder"},
      {"t_embedder.mlp.0", "time_caption_embed.timestep_embedder.linear_1"},
      {"t_embedder.mlp.2", "time_caption_embed.timestep_embedder.linear_2"},
      {"clip_text_pooled_proj", "time_caption_embed.clip_text_pooled_proj"},
      {"time_text_embed", "time_caption_embed.time_text_embed"},
      {"attention", "attn"},
      {".out.", ".to_out.0."},
      {"k_norm", "norm_k"},
      {"q_norm", "norm_q"},
      {"w1", "linear_1"},
      {"w2", "linear_2"},
      {"w3", "linear_3"},
      {"adaLN_modulation.1", "norm1.linear"}
    };
    for (String[] r : renames) {
      k = k.replace(r[0], r[1]);
    }
    return k;
  }

  /** The fixture's DiT config under the names of diffusers' Lumina2Transformer2DModel config. */
  static void writeDiffusersDitConfig(NextDitParams p, Path file) throws IOException {
    ObjectNode c = JSON.createObjectNode();
    c.put("_class_name", "Lumina2Transformer2DModel");
    c.put("sample_size", 128);
    c.put("patch_size", p.patchSize());
    c.put("in_channels", p.inChannels());
    c.put("hidden_size", p.dim());
    c.put("num_layers", p.nLayers());
    c.put("num_refiner_layers", p.nRefinerLayers());
    c.put("num_attention_heads", p.nHeads());
    c.put("num_kv_heads", p.nKvHeads());
    c.put("multiple_of", p.multipleOf());
    c.putNull("ffn_dim_multiplier");
    c.put("norm_eps", p.normEps());
    c.put("scaling_factor", 1.0);
    c.putPOJO("axes_dim_rope", p.axesDims());
    c.putPOJO("axes_lens", p.axesLens());
    c.put("cap_feat_dim", p.capFeatDim());
    c.put("pooled_projection_dim", p.clipTextDim());
    Files.createDirectories(file.getParent());
    JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), c);
  }

  /**
   * The DiT's config as NewBie's conversion to its diffusers-style folder writes it: {@code
   * model_type}, {@code _class_name}, the sizes, {@code clip_text_dim} and {@code clip_img_dim}, no
   * caption width (its model takes {@code cap_feat_dim} from the text encoder's config).
   */
  static void writeNewbieConversionConfig(NextDitParams p, Path file) throws IOException {
    ObjectNode c = JSON.createObjectNode();
    c.put("model_type", "nextdit_clip");
    c.put("patch_size", p.patchSize());
    c.put("dim", p.dim());
    c.put("n_layers", p.nLayers());
    c.put("n_heads", p.nHeads());
    c.put("n_kv_heads", p.nKvHeads());
    c.put("in_channels", p.inChannels());
    c.putPOJO("axes_dims", p.axesDims());
    c.putPOJO("axes_lens", p.axesLens());
    c.put("clip_text_dim", p.clipTextDim());
    c.put("clip_img_dim", p.clipTextDim());
    c.put("_class_name", "NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP");
    // The fixture's own value where NewBie's default (256) would not give its FFN width.
    c.put("multiple_of", p.multipleOf());
    Files.createDirectories(file.getParent());
    JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), c);
  }

  /**
   * Gemma's text-model file as a multimodal checkpoint holds it: every key under {@code prefix},
   * beside a vision tower's and a projector's tensors (under {@code visionPrefix}) that a text
   * encoder must ignore.
   */
  static List<Tensor> multimodalGemma(Path textModelFile, String prefix, String visionPrefix) {
    List<Tensor> out = new ArrayList<>(read(textModelFile, k -> prefix + k));
    float[] junk = new float[6 * 4];
    Arrays.fill(junk, Float.NaN); // read by mistake, these would poison every output
    byte[] data = dev.fleet.engine.weights.Narrowing.encode(junk, DType.F32);
    out.add(
        new Tensor(
            visionPrefix + "vision_tower.vision_model.embeddings.patch_embedding.weight",
            DType.F32,
            new long[] {6, 4},
            data));
    out.add(
        new Tensor(
            visionPrefix + "multi_modal_projector.mm_input_projection_weight",
            DType.F32,
            new long[] {6, 4},
            data));
    return out;
  }

  /** A multimodal Gemma 3 config: the fixture's text config under {@code text_config}. */
  static void writeMultimodalGemmaConfig(Path textConfig, Path file) throws IOException {
    ObjectNode c = JSON.createObjectNode();
    c.putArray("architectures").add("Gemma3ForConditionalGeneration");
    c.put("model_type", "gemma3");
    c.set("text_config", JSON.readTree(textConfig.toFile()));
    c.putObject("vision_config").put("model_type", "siglip_vision_model");
    Files.createDirectories(file.getParent());
    JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), c);
  }

  /** Writes {@code tensors} as one file. */
  static void write(List<Tensor> tensors, Path file) throws IOException {
    SafetensorsWriter w = new SafetensorsWriter();
    tensors.forEach(t -> w.add(t.name(), t.dtype(), t.shape(), t.data()));
    Files.createDirectories(file.getParent());
    w.write(file);
  }

  /**
   * Writes {@code tensors} in {@code shards} files named as Hugging Face names them ({@code
   * base-00001-of-00002.safetensors} …) and the index {@code base.safetensors.index.json}.
   *
   * @return the index
   */
  static Path writeSharded(List<Tensor> tensors, Path dir, String base, int shards)
      throws IOException {
    Files.createDirectories(dir);
    Map<String, String> weightMap = new LinkedHashMap<>();
    long total = 0;
    for (int s = 0; s < shards; s++) {
      String file = String.format("%s-%05d-of-%05d.safetensors", base, s + 1, shards);
      SafetensorsWriter w = new SafetensorsWriter();
      for (int i = s; i < tensors.size(); i += shards) {
        Tensor t = tensors.get(i);
        w.add(t.name(), t.dtype(), t.shape(), t.data());
        weightMap.put(t.name(), file);
        total += t.data().length;
      }
      w.write(dir.resolve(file));
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    Path indexFile = dir.resolve(base + ".safetensors.index.json");
    JSON.writerWithDefaultPrettyPrinter().writeValue(indexFile.toFile(), index);
    return indexFile;
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }
}
