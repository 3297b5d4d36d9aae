package dev.fleet.engine.vae;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A diffusers {@code AutoencoderKL} checkpoint (FLUX.1-dev's {@code
 * vae/diffusion_pytorch_model.safetensors}) read under BFL's {@code ae.safetensors} names, so that
 * one loader serves both. Names map one to one; the bytes are the stored ones. The renames: {@code
 * down_blocks.i.resnets.j} is {@code down.i.block.j}, {@code downsamplers.0} is {@code downsample},
 * {@code up_blocks.i} is {@code up.(levels-1-i)} (diffusers counts decoder levels from the
 * coarsest), {@code upsamplers.0} is {@code upsample}, {@code mid_block.resnets.0/1} are {@code
 * mid.block_1/2}, {@code mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}} are {@code
 * mid.attn_1.{norm,q,k,v,proj_out}} (their (C, C) linear weights are presented as (C, C, 1, 1) 1x1
 * convs, the same bytes), {@code conv_shortcut} is {@code nin_shortcut}, {@code conv_norm_out} is
 * {@code norm_out}. Closing the view closes the store it views.
 */
public final class DiffusersVaeStore implements TensorStore {
  private static final Pattern DOWN_RESNET =
      Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.(.+)");
  private static final Pattern DOWNSAMPLER =
      Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.downsamplers\\.0\\.conv\\.(weight|bias)");
  private static final Pattern UP_RESNET =
      Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.(.+)");
  private static final Pattern UPSAMPLER =
      Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.upsamplers\\.0\\.conv\\.(weight|bias)");
  private static final Pattern UP_BLOCK = Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\..+");
  private static final Pattern MID_RESNET =
      Pattern.compile("(encoder|decoder)\\.mid_block\\.resnets\\.([01])\\.(.+)");
  private static final Pattern MID_ATTN =
      Pattern.compile(
          "(encoder|decoder)\\.mid_block\\.attentions\\.0\\."
              + "(group_norm|to_q|to_k|to_v|to_out\\.0|query|key|value|proj_attn)\\.(weight|bias)");
  private static final Pattern ENDS =
      Pattern.compile("(encoder|decoder)\\.(conv_in|conv_out|conv_norm_out)\\.(weight|bias)");
  private static final Pattern RESNET_PART =
      Pattern.compile("(norm1|norm2|conv1|conv2|conv_shortcut)\\.(weight|bias)");

  private final TensorStore stored;
  private final Map<String, String> storedNames;
  private final Map<String, TensorEntry> entries;

  private DiffusersVaeStore(TensorStore stored) {
    this.stored = stored;
    int levels = 0;
    for (String name : stored.names()) {
      Matcher m = UP_BLOCK.matcher(name);
      if (m.matches()) {
        levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
      }
    }
    Map<String, String> names = new LinkedHashMap<>();
    Map<String, TensorEntry> byBflName = new LinkedHashMap<>();
    for (String name : stored.names()) {
      String bfl = toBfl(name, levels);
      TensorEntry e = stored.entry(name);
      long[] shape = e.shape();
      if (bfl.contains(".attn_1.") && bfl.endsWith(".weight") && shape.length == 2) {
        shape = new long[] {shape[0], shape[1], 1, 1};
      }
      String clash = names.put(bfl, name);
      if (clash != null) {
        throw new SafetensorsException(
            stored.describe(), name, "names the same tensor as " + clash + " (" + bfl + ")");
      }
      byBflName.put(bfl, new TensorEntry(e.file(), bfl, e.dtype(), shape, e.begin(), e.end()));
    }
    this.storedNames = Collections.unmodifiableMap(names);
    this.entries = Collections.unmodifiableMap(byBflName);
  }

  /**
   * The store itself when it already uses BFL names, a renaming view when it uses the diffusers
   * layout (recognised by {@code down_blocks}, {@code up_blocks} or {@code mid_block} keys).
   */
  public static TensorStore asBflLayout(TensorStore store) {
    if (store instanceof DiffusersVaeStore) {
      return store;
    }
    boolean diffusers =
        store.names().stream()
            .anyMatch(
                n ->
                    n.startsWith("encoder.down_blocks.")
                        || n.startsWith("decoder.up_blocks.")
                        || n.contains(".mid_block."));
    return diffusers ? new DiffusersVaeStore(store) : store;
  }

  private String toBfl(String name, int levels) {
    Matcher m;
    if ((m = DOWN_RESNET.matcher(name)).matches()) {
      return "encoder.down."
          + m.group(1)
          + ".block."
          + m.group(2)
          + "."
          + resnetPart(name, m.group(3));
    }
    if ((m = DOWNSAMPLER.matcher(name)).matches()) {
      return "encoder.down." + m.group(1) + ".downsample.conv." + m.group(2);
    }
    if ((m = UP_RESNET.matcher(name)).matches()) {
      int level = levels - 1 - Integer.parseInt(m.group(1));
      return "decoder.up." + level + ".block." + m.group(2) + "." + resnetPart(name, m.group(3));
    }
    if ((m = UPSAMPLER.matcher(name)).matches()) {
      int level = levels - 1 - Integer.parseInt(m.group(1));
      return "decoder.up." + level + ".upsample.conv." + m.group(2);
    }
    if ((m = MID_RESNET.matcher(name)).matches()) {
      int block = Integer.parseInt(m.group(2)) + 1;
      return m.group(1) + ".mid.block_" + block + "." + resnetPart(name, m.group(3));
    }
    if ((m = MID_ATTN.matcher(name)).matches()) {
      String part =
          switch (m.group(2)) {
            case "group_norm" -> "norm";
            case "to_q", "query" -> "q";
            case "to_k", "key" -> "k";
            case "to_v", "value" -> "v";
            case "to_out.0", "proj_attn" -> "proj_out";
            default -> throw unknown(name);
          };
      return m.group(1) + ".mid.attn_1." + part + "." + m.group(3);
    }
    if ((m = ENDS.matcher(name)).matches()) {
      String part = m.group(2).equals("conv_norm_out") ? "norm_out" : m.group(2);
      return m.group(1) + "." + part + "." + m.group(3);
    }
    throw unknown(name);
  }

  private String resnetPart(String name, String part) {
    Matcher m = RESNET_PART.matcher(part);
    if (!m.matches()) {
      throw unknown(name);
    }
    String layer = m.group(1).equals("conv_shortcut") ? "nin_shortcut" : m.group(1);
    return layer + "." + m.group(2);
  }

  private SafetensorsException unknown(String name) {
    return new SafetensorsException(
        stored.describe(),
        name,
        "not a tensor of the FLUX autoencoder in the diffusers layout"
            + (name.contains("quant_conv")
                ? " (quant convs belong to Stable Diffusion's VAE)"
                : ""));
  }

  @Override
  public Set<String> names() {
    return entries.keySet();
  }

  @Override
  public TensorEntry entry(String name) {
    TensorEntry e = entries.get(name);
    if (e == null) {
      throw new SafetensorsException(describe(), name, "missing tensor");
    }
    return e;
  }

  @Override
  public ByteBuffer bytes(String name) {
    entry(name);
    return stored.bytes(storedNames.get(name));
  }

  @Override
  public float valueScale(String name) {
    entry(name);
    return stored.valueScale(storedNames.get(name));
  }

  @Override
  public String describe() {
    return stored.describe() + " (diffusers layout, named as BFL's ae.safetensors)";
  }

  @Override
  public void close() {
    stored.close();
  }
}
