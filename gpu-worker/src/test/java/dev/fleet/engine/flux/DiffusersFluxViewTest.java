package dev.fleet.engine.flux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.KeyMappedStore;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes the fixture in the diffusers layout (two shards and an index, as diffusers saves
 * FLUX.1-dev) with the mapping of diffusers' {@code convert_flux_to_diffusers.py}, written out
 * independently of the view, and checks that the view brings it back.
 */
class DiffusersFluxViewTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");

  @TempDir static Path dir;

  @BeforeAll
  static void writeDiffusersLayout() throws IOException {
    try (TensorStore bfl = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      FluxParams p = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
      Map<String, byte[]> data = new LinkedHashMap<>();
      Map<String, long[]> shapes = new LinkedHashMap<>();
      Converter c = new Converter(bfl, data, shapes);
      c.linear("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1");
      c.linear("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2");
      c.linear("vector_in.in_layer", "time_text_embed.text_embedder.linear_1");
      c.linear("vector_in.out_layer", "time_text_embed.text_embedder.linear_2");
      c.linear("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1");
      c.linear("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2");
      c.linear("txt_in", "context_embedder");
      c.linear("img_in", "x_embedder");
      for (int i = 0; i < p.dims().depth(); i++) {
        String o = "double_blocks." + i + ".";
        String d = "transformer_blocks." + i + ".";
        c.linear(o + "img_mod.lin", d + "norm1.linear");
        c.linear(o + "txt_mod.lin", d + "norm1_context.linear");
        int h = p.dims().hiddenSize();
        c.split(
            o + "img_attn.qkv",
            new int[] {h, h, h},
            d + "attn.to_q",
            d + "attn.to_k",
            d + "attn.to_v");
        c.split(
            o + "txt_attn.qkv",
            new int[] {h, h, h},
            d + "attn.add_q_proj",
            d + "attn.add_k_proj",
            d + "attn.add_v_proj");
        c.copy(o + "img_attn.norm.query_norm.scale", d + "attn.norm_q.weight");
        c.copy(o + "img_attn.norm.key_norm.scale", d + "attn.norm_k.weight");
        c.copy(o + "txt_attn.norm.query_norm.scale", d + "attn.norm_added_q.weight");
        c.copy(o + "txt_attn.norm.key_norm.scale", d + "attn.norm_added_k.weight");
        c.linear(o + "img_mlp.0", d + "ff.net.0.proj");
        c.linear(o + "img_mlp.2", d + "ff.net.2");
        c.linear(o + "txt_mlp.0", d + "ff_context.net.0.proj");
        c.linear(o + "txt_mlp.2", d + "ff_context.net.2");
        c.linear(o + "img_attn.proj", d + "attn.to_out.0");
        c.linear(o + "txt_attn.proj", d + "attn.to_add_out");
      }
      for (int i = 0; i < p.dims().depthSingleBlocks(); i++) {
        String o = "single_blocks." + i + ".";
        String d = "single_transformer_blocks." + i + ".";
        int h = p.dims().hiddenSize();
        c.linear(o + "modulation.lin", d + "norm.linear");
        c.split(
            o + "linear1",
            new int[] {h, h, h, p.dims().mlpHiddenDim()},
            d + "attn.to_q",
            d + "attn.to_k",
            d + "attn.to_v",
            d + "proj_mlp");
        c.copy(o + "norm.query_norm.scale", d + "attn.norm_q.weight");
        c.copy(o + "norm.key_norm.scale", d + "attn.norm_k.weight");
        c.linear(o + "linear2", d + "proj_out");
      }
      c.linear("final_layer.linear", "proj_out");
      for (String s : List.of(".weight", ".bias")) {
        // BFL keeps (shift, scale), diffusers (scale, shift).
        TensorEntry e = bfl.entry("final_layer.adaLN_modulation.1" + s);
        byte[] all = bytes(bfl, e.name());
        byte[] swapped = new byte[all.length];
        System.arraycopy(all, all.length / 2, swapped, 0, all.length / 2);
        System.arraycopy(all, 0, swapped, all.length / 2, all.length / 2);
        data.put("norm_out.linear" + s, swapped);
        shapes.put("norm_out.linear" + s, e.shape());
        c.consumed++;
      }
      assertEquals(bfl.names().size(), c.consumed, "every BFL tensor converted");

      Map<String, String> weightMap = new LinkedHashMap<>();
      SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
      String[] files = {
        "diffusion_pytorch_model-00001-of-00002.safetensors",
        "diffusion_pytorch_model-00002-of-00002.safetensors"
      };
      int k = 0;
      for (var e : data.entrySet()) {
        int shard = k++ < data.size() / 2 ? 0 : 1;
        shards[shard].add(
            e.getKey(), bfl.entry("img_in.weight").dtype(), shapes.get(e.getKey()), e.getValue());
        weightMap.put(e.getKey(), files[shard]);
      }
      for (int i = 0; i < 2; i++) {
        shards[i].write(dir.resolve(files[i]));
      }
      ObjectMapper json = new ObjectMapper();
      ObjectNode index = json.createObjectNode();
      index.putObject("metadata");
      ObjectNode wm = index.putObject("weight_map");
      weightMap.forEach(wm::put);
      json.writeValue(
          dir.resolve("diffusion_pytorch_model.safetensors.index.json").toFile(), index);

      ObjectNode config = json.createObjectNode();
      config.put("_class_name", "FluxTransformer2DModel");
      config.put("attention_head_dim", p.dims().headDim());
      config.put("guidance_embeds", true);
      config.put("in_channels", p.dims().inChannels());
      config.put("joint_attention_dim", p.dims().contextInDim());
      config.put("num_attention_heads", p.dims().numHeads());
      config.put("num_layers", p.dims().depth());
      config.put("num_single_layers", p.dims().depthSingleBlocks());
      config.put("patch_size", 1);
      config.put("pooled_projection_dim", p.dims().vecInDim());
      config.putArray("axes_dims_rope").add(8).add(12).add(12);
      json.writeValue(dir.resolve("config.json").toFile(), config);
    }
  }

  /** BFL tensors to diffusers ones, counting the BFL tensors used. */
  private static final class Converter {
    final TensorStore bfl;
    final Map<String, byte[]> data;
    final Map<String, long[]> shapes;
    int consumed;

    Converter(TensorStore bfl, Map<String, byte[]> data, Map<String, long[]> shapes) {
      this.bfl = bfl;
      this.data = data;
      this.shapes = shapes;
    }

    void copy(String from, String to) {
      data.put(to, bytes(bfl, from));
      shapes.put(to, bfl.entry(from).shape());
      consumed++;
    }

    void linear(String from, String to) {
      copy(from + ".weight", to + ".weight");
      copy(from + ".bias", to + ".bias");
    }

    /** Splits the rows of a fused projection (weight and bias) into its parts. */
    void split(String from, int[] rows, String... to) {
      for (String s : List.of(".weight", ".bias")) {
        TensorEntry e = bfl.entry(from + s);
        byte[] all = bytes(bfl, e.name());
        long[] shape = e.shape();
        int rowBytes = (int) (all.length / shape[0]);
        int at = 0;
        for (int i = 0; i < to.length; i++) {
          long[] partShape = shape.clone();
          partShape[0] = rows[i];
          data.put(to[i] + s, Arrays.copyOfRange(all, at, at + rows[i] * rowBytes));
          shapes.put(to[i] + s, partShape);
          at += rows[i] * rowBytes;
        }
        assertEquals(all.length, at, from + s + " split sizes");
        consumed++;
      }
    }
  }

  private static byte[] bytes(TensorStore store, String name) {
    ByteBuffer b = store.bytes(name).duplicate();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  @Test
  void viewHasTheBflNamesShapesAndBytes() {
    try (TensorStore bfl = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        TensorStore view = DiffusersFluxView.inBflLayout(TensorStore.open(dir))) {
      assertTrue(view instanceof KeyMappedStore);
      assertEquals(bfl.names().stream().sorted().toList(), view.names().stream().sorted().toList());
      for (String n : bfl.names()) {
        assertEquals(
            Arrays.toString(bfl.entry(n).shape()), Arrays.toString(view.entry(n).shape()), n);
        assertEquals(bfl.bytes(n), view.bytes(n), n);
      }
    }
  }

  @Test
  void bflStoresPassThrough() {
    TensorStore bfl = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
    try (TensorStore same = DiffusersFluxView.inBflLayout(bfl)) {
      assertSame(bfl, same);
      assertFalse(DiffusersFluxView.isDiffusersLayout(same));
    }
  }

  @Test
  void paramsFromTheDiffusersConfigAndFromShapes() {
    FluxParams bfl = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
    try (TensorStore view = DiffusersFluxView.inBflLayout(TensorStore.open(dir))) {
      assertEquals(bfl, FluxParams.infer(view, dir.resolve("config.json")));
      FluxParams inferred = FluxParams.infer(view, null);
      assertEquals(bfl.dims().depth(), inferred.dims().depth());
      assertEquals(bfl.dims().depthSingleBlocks(), inferred.dims().depthSingleBlocks());
      assertEquals(bfl.dims().numHeads(), inferred.dims().numHeads());
      assertEquals(bfl.dims().vecInDim(), inferred.dims().vecInDim());
      assertTrue(inferred.dims().guidanceEmbed() && inferred.dims().qkvBias());
    }
  }

  @Test
  void diffusersLayoutMatchesReference() {
    try (TensorStore view = DiffusersFluxView.inBflLayout(TensorStore.open(dir));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      FluxParams p = FluxParams.infer(view, dir.resolve("config.json"));
      try (TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
          FluxTransformer model = FluxTransformer.load(new Weights(view, ComputeTarget.cpu()), p)) {
        Weights in = new Weights(expected, ComputeTarget.cpu());
        NDArray out =
            model.forward(
                in.load("dit.in.img", m),
                in.load("dit.in.img_ids", m),
                in.load("dit.in.txt", m),
                in.load("dit.in.txt_ids", m),
                in.load("dit.in.y", m),
                in.load("dit.in.timesteps", m),
                in.load("dit.in.guidance", m));
        NDArray want = in.load("dit.out", m);
        double err = out.sub(want).norm().getFloat() / want.norm().getFloat();
        System.out.printf("diffusers layout vs dit.out: rel L2 %.3e%n", err);
        assertTrue(err <= 1e-4, "rel L2 " + err);
      }
    }
  }

  @Test
  void aMissingPartIsNamed() {
    try (TensorStore diffusers = TensorStore.open(dir)) {
      String gone = "single_transformer_blocks.1.attn.to_v.weight";
      // The view owns what it wraps; the altered store leaves the real one to this try block.
      TensorStore view = DiffusersFluxView.inBflLayout(AlteredStore.without(diffusers, gone));
      var e =
          assertThrows(
              SafetensorsException.class, () -> view.entry("single_blocks.1.linear1.weight"));
      assertTrue(e.getMessage().contains(gone), e.getMessage());
    }
  }
}
