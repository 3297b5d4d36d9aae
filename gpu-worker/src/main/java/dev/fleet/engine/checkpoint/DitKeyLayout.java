package dev.fleet.engine.checkpoint;

import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The key layouts a FLUX transformer file comes in: BFL's names bare (as {@code
 * flux1-dev.safetensors}), the same under ComfyUI's {@code model.diffusion_model.} (ComfyUI's own
 * saves, all-in-one files, majicflus) or {@code diffusion_model.}, and diffusers' {@code
 * FluxTransformer2DModel} names. As ComfyUI decides, a prefix is taken when more than {@value
 * #PREFIX_MIN_KEYS} keys carry it (the most common one when several do).
 */
public enum DitKeyLayout {
  BFL("", "img_in.weight", "BFL (img_in.weight, double_blocks.N.*, single_blocks.N.*)"),
  COMFYUI(
      "model.diffusion_model.",
      "img_in.weight",
      "ComfyUI (model.diffusion_model. + BFL names, also all-in-one files)"),
  DIFFUSION_MODEL("diffusion_model.", "img_in.weight", "diffusion_model. + BFL names"),
  DIFFUSERS(
      "",
      "x_embedder.weight",
      "diffusers FluxTransformer2DModel (x_embedder.weight, transformer_blocks.N.*)");

  /** ComfyUI's rule: a prefix counts when more than this many keys carry it. */
  public static final int PREFIX_MIN_KEYS = 5;

  /** Key prefixes a transformer may sit under, most specific first. */
  static final List<String> PREFIXES = List.of("model.diffusion_model.", "diffusion_model.");

  private static final Pattern BFL_KEY =
      Pattern.compile(
          "(img_in|txt_in|time_in|vector_in|guidance_in|double_blocks|single_blocks|final_layer)"
              + "\\..+");
  private static final Pattern DIFFUSERS_KEY =
      Pattern.compile(
          "(x_embedder|context_embedder|time_text_embed|transformer_blocks"
              + "|single_transformer_blocks|norm_out|proj_out)\\..+");
  private static final Pattern QUANTIZATION_KEY =
      Pattern.compile(
          "scaled_fp8|.+\\.(scale_weight|weight_scale|scale_input|input_scale|comfy_quant)");

  /** How many keys that did not fit an error shows. */
  private static final int KEYS_SHOWN = 8;

  private final String prefix;
  private final String marker;
  private final String description;

  DitKeyLayout(String prefix, String marker, String description) {
    this.prefix = prefix;
    this.marker = marker;
    this.description = description;
  }

  /** What the transformer's keys start with in the file ("" for none). */
  public String prefix() {
    return prefix;
  }

  /** A key (after the prefix) every file of this layout has. */
  public String marker() {
    return marker;
  }

  public String description() {
    return description;
  }

  /**
   * The prefix ComfyUI would take for a diffusion model in {@code store}: the candidate most keys
   * carry, when more than {@value #PREFIX_MIN_KEYS} do; "" otherwise.
   */
  public static String prefixOf(TensorStore store) {
    String best = "";
    long bestCount = PREFIX_MIN_KEYS;
    for (String p : PREFIXES) {
      long n = PrefixedStore.count(store, p);
      if (n > bestCount) {
        best = p;
        bestCount = n;
      }
    }
    return best;
  }

  /**
   * The layout of a transformer file.
   *
   * @throws UnrecognisedCheckpointException naming the layouts tried and the first keys that fit
   *     none of them
   */
  public static DitKeyLayout detect(TensorStore store) {
    String prefix = prefixOf(store);
    for (DitKeyLayout l : values()) {
      if (l.prefix.equals(prefix) && store.contains(prefix + l.marker)) {
        return l;
      }
    }
    throw new UnrecognisedCheckpointException(
        store.describe(),
        "not a FLUX transformer in any layout the engine knows; tried "
            + Arrays.stream(values())
                .map(l -> l.description + " [" + l.prefix + l.marker + "]")
                .collect(Collectors.joining("; "))
            + (prefix.isEmpty()
                ? ""
                : "; " + PrefixedStore.count(store, prefix) + " keys carry the prefix " + prefix)
            + ". First keys that did not fit: "
            + unfitting(store, prefix)
            + " ("
            + store.names().size()
            + " tensors in all)");
  }

  /** The first keys that are no transformer key of any layout. */
  static List<String> unfitting(TensorStore store, String prefix) {
    List<String> out = new ArrayList<>();
    for (String name : store.names()) {
      String bare = name.startsWith(prefix) ? name.substring(prefix.length()) : name;
      boolean fits =
          BFL_KEY.matcher(bare).matches()
              || DIFFUSERS_KEY.matcher(bare).matches()
              || QUANTIZATION_KEY.matcher(bare).matches();
      if (!fits || (bare.equals(name) && !prefix.isEmpty())) {
        out.add(name);
        if (out.size() == KEYS_SHOWN) {
          break;
        }
      }
    }
    if (out.isEmpty()) {
      // Every key looks like a transformer's, but the input projection is missing.
      store.names().stream().limit(KEYS_SHOWN).forEach(out::add);
    }
    return out;
  }
}
