package dev.fleet.engine.flux;

import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A test double holding only tensor names and shapes, for what reads headers alone. */
final class ShapeOnlyStore implements TensorStore {
  private final Map<String, long[]> shapes = new LinkedHashMap<>();

  ShapeOnlyStore put(String name, long... shape) {
    shapes.put(name, shape);
    return this;
  }

  /** The BFL-layout tensors of FLUX.1-dev (or schnell, without guidance_in), with their shapes. */
  static ShapeOnlyStore flux1(boolean guidance) {
    int h = 3072;
    int mlp = 4 * h;
    ShapeOnlyStore s = new ShapeOnlyStore();
    s.put("img_in.weight", h, 64).put("img_in.bias", h);
    s.put("txt_in.weight", h, 4096).put("txt_in.bias", h);
    for (String e : guidance ? new String[] {"time_in", "guidance_in"} : new String[] {"time_in"}) {
      s.put(e + ".in_layer.weight", h, 256).put(e + ".in_layer.bias", h);
      s.put(e + ".out_layer.weight", h, h).put(e + ".out_layer.bias", h);
    }
    s.put("vector_in.in_layer.weight", h, 768).put("vector_in.in_layer.bias", h);
    s.put("vector_in.out_layer.weight", h, h).put("vector_in.out_layer.bias", h);
    for (int i = 0; i < 19; i++) {
      for (String st : new String[] {"img", "txt"}) {
        String p = "double_blocks." + i + "." + st;
        s.put(p + "_mod.lin.weight", 6 * h, h).put(p + "_mod.lin.bias", 6 * h);
        s.put(p + "_attn.qkv.weight", 3 * h, h).put(p + "_attn.qkv.bias", 3 * h);
        s.put(p + "_attn.norm.query_norm.scale", 128).put(p + "_attn.norm.key_norm.scale", 128);
        s.put(p + "_attn.proj.weight", h, h).put(p + "_attn.proj.bias", h);
        s.put(p + "_mlp.0.weight", mlp, h).put(p + "_mlp.0.bias", mlp);
        s.put(p + "_mlp.2.weight", h, mlp).put(p + "_mlp.2.bias", h);
      }
    }
    for (int i = 0; i < 38; i++) {
      String p = "single_blocks." + i + ".";
      s.put(p + "linear1.weight", 3 * h + mlp, h).put(p + "linear1.bias", 3 * h + mlp);
      s.put(p + "linear2.weight", h, h + mlp).put(p + "linear2.bias", h);
      s.put(p + "norm.query_norm.scale", 128).put(p + "norm.key_norm.scale", 128);
      s.put(p + "modulation.lin.weight", 3 * h, h).put(p + "modulation.lin.bias", 3 * h);
    }
    s.put("final_layer.adaLN_modulation.1.weight", 2 * h, h);
    s.put("final_layer.adaLN_modulation.1.bias", 2 * h);
    s.put("final_layer.linear.weight", 64, h).put("final_layer.linear.bias", 64);
    return s;
  }

  @Override
  public Set<String> names() {
    return shapes.keySet();
  }

  @Override
  public TensorEntry entry(String name) {
    long[] shape = shapes.get(name);
    if (shape == null) {
      throw new SafetensorsException(describe(), name, "no such tensor");
    }
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return new TensorEntry(Path.of("shapes-only"), name, DType.BF16, shape, 0, 2 * n);
  }

  @Override
  public ByteBuffer bytes(String name) {
    throw new UnsupportedOperationException("shape-only test store holds no data: " + name);
  }

  @Override
  public String describe() {
    return "shape-only store";
  }

  @Override
  public void close() {}
}
