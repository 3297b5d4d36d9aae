package dev.fleet.engine.flux;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A diffusers-layout FLUX transformer ({@code FluxTransformer2DModel}: {@code x_embedder}, {@code
 * transformer_blocks.N.attn.to_q} ...) seen under the BFL key names the engine loads. Separate q,
 * k, v (and the single blocks' {@code proj_mlp}) projections are concatenated along the output rows
 * into BFL's fused {@code qkv} / {@code linear1}, and the output head's modulation, which diffusers
 * stores as (scale, shift), is given back in BFL's (shift, scale) order. Renamed tensors are served
 * from the underlying mapping without a copy; fused or reordered ones are assembled in a new buffer
 * on every {@link #bytes} call, and their entries are virtual (offsets 0..size, not into a file).
 * The view owns the underlying store.
 */
public final class DiffusersFluxView implements TensorStore {
  private static final Logger LOG = LoggerFactory.getLogger(DiffusersFluxView.class);

  /**
   * How one BFL tensor is made: its diffusers parts, stacked along dim 0, halves swapped or not.
   */
  private record Source(List<String> parts, boolean swapHalves) {}

  private final TensorStore base;
  private final Map<String, Source> sources;

  private DiffusersFluxView(TensorStore base, Map<String, Source> sources) {
    this.base = base;
    this.sources = sources;
  }

  /** True when the store holds a diffusers-layout FLUX transformer. */
  public static boolean isDiffusersLayout(TensorStore store) {
    return store.contains("x_embedder.weight") && !store.contains("img_in.weight");
  }

  /**
   * The store in the BFL key layout: a view when it is in the diffusers layout, the store itself
   * otherwise. Either way, closing the result closes the store.
   */
  public static TensorStore inBflLayout(TensorStore store) {
    if (!isDiffusersLayout(store)) {
      return store;
    }
    LOG.info("{} is in the diffusers layout; mapping its keys to BFL's", store.describe());
    return new DiffusersFluxView(store, mapping(store));
  }

  private static Map<String, Source> mapping(TensorStore store) {
    Map<String, Source> m = new LinkedHashMap<>();
    Mapper map = new Mapper(store, m);
    map.linear("img_in", "x_embedder");
    map.linear("txt_in", "context_embedder");
    map.linear("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1");
    map.linear("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2");
    map.linear("vector_in.in_layer", "time_text_embed.text_embedder.linear_1");
    map.linear("vector_in.out_layer", "time_text_embed.text_embedder.linear_2");
    map.linear("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1");
    map.linear("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2");
    map.linear("final_layer.linear", "proj_out");
    for (String p : List.of(".weight", ".bias")) {
      map.swapped("final_layer.adaLN_modulation.1" + p, "norm_out.linear" + p);
    }
    for (int i : blockIndices(store, "transformer_blocks")) {
      String b = "double_blocks." + i + ".";
      String d = "transformer_blocks." + i + ".";
      map.linear(b + "img_mod.lin", d + "norm1.linear");
      map.linear(b + "txt_mod.lin", d + "norm1_context.linear");
      map.fused(b + "img_attn.qkv", d + "attn.to_q", d + "attn.to_k", d + "attn.to_v");
      map.fused(
          b + "txt_attn.qkv", d + "attn.add_q_proj", d + "attn.add_k_proj", d + "attn.add_v_proj");
      map.tensor(b + "img_attn.norm.query_norm.scale", d + "attn.norm_q.weight");
      map.tensor(b + "img_attn.norm.key_norm.scale", d + "attn.norm_k.weight");
      map.tensor(b + "txt_attn.norm.query_norm.scale", d + "attn.norm_added_q.weight");
      map.tensor(b + "txt_attn.norm.key_norm.scale", d + "attn.norm_added_k.weight");
      map.linear(b + "img_attn.proj", d + "attn.to_out.0");
      map.linear(b + "txt_attn.proj", d + "attn.to_add_out");
      map.linear(b + "img_mlp.0", d + "ff.net.0.proj");
      map.linear(b + "img_mlp.2", d + "ff.net.2");
      map.linear(b + "txt_mlp.0", d + "ff_context.net.0.proj");
      map.linear(b + "txt_mlp.2", d + "ff_context.net.2");
    }
    for (int i : blockIndices(store, "single_transformer_blocks")) {
      String b = "single_blocks." + i + ".";
      String d = "single_transformer_blocks." + i + ".";
      map.linear(b + "modulation.lin", d + "norm.linear");
      map.fused(b + "linear1", d + "attn.to_q", d + "attn.to_k", d + "attn.to_v", d + "proj_mlp");
      map.tensor(b + "norm.query_norm.scale", d + "attn.norm_q.weight");
      map.tensor(b + "norm.key_norm.scale", d + "attn.norm_k.weight");
      map.linear(b + "linear2", d + "proj_out");
    }
    return m;
  }

  /**
   * Adds a BFL name when the first of its diffusers parts exists (a missing later part is named
   * when the tensor is read).
   */
  private record Mapper(TensorStore store, Map<String, Source> out) {
    void tensor(String bfl, String diffusers) {
      add(bfl, new Source(List.of(diffusers), false));
    }

    void swapped(String bfl, String diffusers) {
      add(bfl, new Source(List.of(diffusers), true));
    }

    void linear(String bfl, String diffusers) {
      tensor(bfl + ".weight", diffusers + ".weight");
      tensor(bfl + ".bias", diffusers + ".bias");
    }

    void fused(String bfl, String... diffusers) {
      for (String p : List.of(".weight", ".bias")) {
        add(bfl + p, new Source(Arrays.stream(diffusers).map(d -> d + p).toList(), false));
      }
    }

    private void add(String bfl, Source s) {
      if (store.contains(s.parts().get(0))) {
        out.put(bfl, s);
      }
    }
  }

  private static Set<Integer> blockIndices(TensorStore store, String prefix) {
    Pattern p = Pattern.compile("^" + Pattern.quote(prefix) + "\\.(\\d+)\\.");
    Set<Integer> seen = new TreeSet<>();
    for (String name : store.names()) {
      Matcher m = p.matcher(name);
      if (m.find()) {
        seen.add(Integer.parseInt(m.group(1)));
      }
    }
    return seen;
  }

  @Override
  public Set<String> names() {
    return sources.keySet();
  }

  @Override
  public boolean contains(String name) {
    return sources.containsKey(name);
  }

  @Override
  public TensorEntry entry(String name) {
    Source s = source(name);
    TensorEntry first = base.entry(s.parts().get(0));
    if (s.parts().size() == 1 && !s.swapHalves()) {
      return new TensorEntry(
          first.file(), name, first.dtype(), first.shape(), first.begin(), first.end());
    }
    long[] shape = first.shape();
    if (shape.length == 0 || (s.swapHalves() && shape[0] % 2 != 0)) {
      throw new SafetensorsException(
          base.describe(), first.name(), "cannot split rows of shape " + Arrays.toString(shape));
    }
    long bytes = first.byteSize();
    for (String part : s.parts().subList(1, s.parts().size())) {
      TensorEntry e = base.entry(part);
      long[] ps = e.shape();
      if (e.dtype() != first.dtype()
          || ps.length != shape.length
          || !Arrays.equals(
              Arrays.copyOfRange(ps, 1, ps.length), Arrays.copyOfRange(shape, 1, shape.length))) {
        throw new SafetensorsException(
            base.describe(),
            part,
            e.dtype()
                + Arrays.toString(ps)
                + " cannot be stacked under "
                + first.name()
                + " "
                + first.dtype()
                + Arrays.toString(first.shape())
                + " to make "
                + name);
      }
      shape[0] += ps[0];
      bytes += e.byteSize();
    }
    return new TensorEntry(first.file(), name, first.dtype(), shape, 0, bytes);
  }

  @Override
  public ByteBuffer bytes(String name) {
    Source s = source(name);
    if (s.parts().size() == 1 && !s.swapHalves()) {
      return base.bytes(s.parts().get(0));
    }
    TensorEntry e = entry(name);
    ByteBuffer out =
        ByteBuffer.allocateDirect(Math.toIntExact(e.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    if (s.swapHalves()) {
      ByteBuffer whole = base.bytes(s.parts().get(0));
      int half = whole.remaining() / 2;
      out.put(whole.slice(whole.position() + half, half));
      out.put(whole.slice(whole.position(), half));
    } else {
      for (String part : s.parts()) {
        out.put(base.bytes(part).duplicate());
      }
    }
    return out.flip();
  }

  /**
   * A renamed or reordered tensor has its part's scale; parts stacked into one tensor must share
   * theirs, which one stored float8 tensor cannot express otherwise.
   */
  @Override
  public float valueScale(String name) {
    Source s = source(name);
    float scale = base.valueScale(s.parts().get(0));
    for (String part : s.parts().subList(1, s.parts().size())) {
      float other = base.valueScale(part);
      if (other != scale) {
        throw new SafetensorsException(
            base.describe(),
            part,
            "scale "
                + other
                + " differs from "
                + s.parts().get(0)
                + "'s "
                + scale
                + ": scaled float8 parts with different scales cannot be fused into "
                + name);
      }
    }
    return scale;
  }

  @Override
  public java.util.Map<String, String> metadata() {
    return base.metadata();
  }

  private Source source(String name) {
    Source s = sources.get(name);
    if (s == null) {
      throw new SafetensorsException(describe(), name, "no such tensor");
    }
    return s;
  }

  @Override
  public String describe() {
    return base.describe() + " (diffusers layout as BFL)";
  }

  @Override
  public void close() {
    base.close();
  }
}
