package dev.fleet.engine.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.model.memory.AutoencoderDims;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Hyperparameters of the FLUX autoencoder, as BFL's {@code AutoEncoderParams}: its dimensions,
 * which the memory planner shares ({@link AutoencoderDims}), and the latent scale and shift, which
 * only the engine applies.
 *
 * @param dims channels, levels and resnet blocks
 * @param resolution training resolution; recorded, not used by the computation
 * @param scaleFactor latent scale: {@code encode} returns {@code scale * (mean - shift)}
 * @param shiftFactor latent shift
 */
public record AutoEncoderParams(
    AutoencoderDims dims, int resolution, float scaleFactor, float shiftFactor) {

  /** Group count of every GroupNorm in the autoencoder (hard-coded in BFL's modules). */
  public static final int NORM_GROUPS = 32;

  /** Epsilon of every GroupNorm in the autoencoder. */
  public static final float NORM_EPS = 1e-6f;

  /** FLUX.1's {@code ae.safetensors} latent scale, used when nothing else says otherwise. */
  public static final float FLUX1_SCALE_FACTOR = 0.3611f;

  /** FLUX.1's {@code ae.safetensors} latent shift. */
  public static final float FLUX1_SHIFT_FACTOR = 0.1159f;

  /** BFL's configured resolution for FLUX.1; a checkpoint does not record it. */
  public static final int FLUX1_RESOLUTION = 256;

  private static final ObjectMapper JSON = new ObjectMapper();

  public AutoEncoderParams {
    Objects.requireNonNull(dims, "dims");
    if (resolution <= 0) {
      throw new IllegalArgumentException("resolution must be positive, got " + resolution);
    }
    if (dims.ch() % NORM_GROUPS != 0) {
      throw new IllegalArgumentException(
          "ch = " + dims.ch() + " must be a multiple of the " + NORM_GROUPS + " GroupNorm groups");
    }
    if (!Float.isFinite(scaleFactor) || scaleFactor == 0f) {
      throw new IllegalArgumentException(
          "scale_factor must be finite and non-zero, got " + scaleFactor);
    }
    if (!Float.isFinite(shiftFactor)) {
      throw new IllegalArgumentException("shift_factor must be finite, got " + shiftFactor);
    }
  }

  /** FLUX.1's resolution, latent scale and shift on these dimensions. */
  public static AutoEncoderParams flux1(AutoencoderDims dims) {
    return new AutoEncoderParams(dims, FLUX1_RESOLUTION, FLUX1_SCALE_FACTOR, FLUX1_SHIFT_FACTOR);
  }

  /**
   * The parameters of a checkpoint: from {@code configJsonOrNull} when it names an existing file
   * (which then takes precedence), otherwise inferred from the tensor shapes with FLUX.1's scale
   * and shift.
   *
   * @param store the checkpoint, in the BFL or the diffusers key layout
   */
  public static AutoEncoderParams infer(TensorStore store, Path configJsonOrNull) {
    if (configJsonOrNull != null && Files.isRegularFile(configJsonOrNull)) {
      return fromConfig(configJsonOrNull);
    }
    return fromShapes(store);
  }

  /**
   * Reads a BFL {@code AutoEncoderParams} JSON (keys {@code ch}, {@code ch_mult} ...) or a
   * diffusers {@code AutoencoderKL} config ({@code block_out_channels}, {@code layers_per_block}
   * ...).
   */
  public static AutoEncoderParams fromConfig(Path configJson) {
    JsonNode root;
    try {
      root = JSON.readTree(configJson.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read autoencoder config " + configJson, e);
    }
    String file = configJson.toString();
    if (root != null && root.has("ch_mult")) {
      return new AutoEncoderParams(
          new AutoencoderDims(
              intField(root, "in_channels", file),
              intField(root, "ch", file),
              intField(root, "out_ch", file),
              intList(root, "ch_mult", file),
              intField(root, "num_res_blocks", file),
              intField(root, "z_channels", file)),
          intField(root, "resolution", file),
          floatField(root, "scale_factor", file),
          floatField(root, "shift_factor", file));
    }
    if (root != null && root.has("block_out_channels")) {
      return fromDiffusersConfig(root, file);
    }
    throw new IllegalArgumentException(
        file
            + ": not an autoencoder config (neither BFL AutoEncoderParams with 'ch_mult' nor a"
            + " diffusers AutoencoderKL config with 'block_out_channels')");
  }

  private static AutoEncoderParams fromDiffusersConfig(JsonNode root, String file) {
    List<Integer> blockOut = intList(root, "block_out_channels", file);
    int ch = blockOut.get(0);
    List<Integer> mult = new ArrayList<>();
    for (int c : blockOut) {
      if (ch <= 0 || c % ch != 0) {
        throw new IllegalArgumentException(
            file + ": block_out_channels " + blockOut + " are not multiples of the first entry");
      }
      mult.add(c / ch);
    }
    if (root.hasNonNull("norm_num_groups") && root.get("norm_num_groups").asInt() != NORM_GROUPS) {
      throw new IllegalArgumentException(
          file
              + ": norm_num_groups "
              + root.get("norm_num_groups")
              + ", the FLUX autoencoder has 32");
    }
    for (String quant : List.of("use_quant_conv", "use_post_quant_conv")) {
      if (root.path(quant).asBoolean(false)) {
        throw new IllegalArgumentException(
            file + ": " + quant + " is true; the FLUX autoencoder has no quant convs");
      }
    }
    int resolution =
        root.hasNonNull("sample_size") ? root.get("sample_size").asInt() : FLUX1_RESOLUTION;
    return new AutoEncoderParams(
        new AutoencoderDims(
            intField(root, "in_channels", file),
            ch,
            intField(root, "out_channels", file),
            mult,
            intField(root, "layers_per_block", file),
            intField(root, "latent_channels", file)),
        resolution,
        floatField(root, "scaling_factor", file),
        floatField(root, "shift_factor", file));
  }

  /**
   * Infers the parameters from tensor shapes: {@code ch} and {@code in_channels} from {@code
   * encoder.conv_in.weight}, {@code ch_mult} from each down level's first conv, {@code
   * num_res_blocks} by counting level 0's blocks, {@code z_channels} and {@code out_ch} from the
   * decoder's {@code conv_in} and {@code conv_out}; scale and shift are FLUX.1's.
   */
  public static AutoEncoderParams fromShapes(TensorStore store) {
    TensorStore bfl = DiffusersVaeStore.asBflLayout(store);
    long[] convIn = bfl.entry("encoder.conv_in.weight").shape();
    int ch = (int) convIn[0];
    List<Integer> mult = new ArrayList<>();
    for (int level = 0; bfl.contains(downConv(level, 0)); level++) {
      long out = bfl.entry(downConv(level, 0)).shape()[0];
      if (out % ch != 0) {
        throw new IllegalArgumentException(
            bfl.describe()
                + " ["
                + downConv(level, 0)
                + "]: "
                + out
                + " channels, not a multiple"
                + " of ch = "
                + ch);
      }
      mult.add((int) (out / ch));
    }
    if (mult.isEmpty()) {
      throw new IllegalArgumentException(
          bfl.describe() + ": no encoder down blocks (" + downConv(0, 0) + " is missing)");
    }
    int blocks = 0;
    while (bfl.contains(downConv(0, blocks))) {
      blocks++;
    }
    long[] decIn = bfl.entry("decoder.conv_in.weight").shape();
    long[] decOut = bfl.entry("decoder.conv_out.weight").shape();
    return flux1(
        new AutoencoderDims((int) convIn[1], ch, (int) decOut[0], mult, blocks, (int) decIn[1]));
  }

  private static String downConv(int level, int block) {
    return "encoder.down." + level + ".block." + block + ".conv1.weight";
  }

  private static JsonNode field(JsonNode root, String name, String file) {
    JsonNode n = root.get(name);
    if (n == null || n.isNull()) {
      throw new IllegalArgumentException(file + ": autoencoder config lacks '" + name + "'");
    }
    return n;
  }

  private static int intField(JsonNode root, String name, String file) {
    JsonNode n = field(root, name, file);
    if (!n.canConvertToInt() || !n.isIntegralNumber()) {
      throw new IllegalArgumentException(file + ": '" + name + "' must be an integer, got " + n);
    }
    return n.asInt();
  }

  private static float floatField(JsonNode root, String name, String file) {
    JsonNode n = field(root, name, file);
    if (!n.isNumber()) {
      throw new IllegalArgumentException(file + ": '" + name + "' must be a number, got " + n);
    }
    return (float) n.asDouble();
  }

  private static List<Integer> intList(JsonNode root, String name, String file) {
    JsonNode n = field(root, name, file);
    if (!n.isArray() || n.isEmpty()) {
      throw new IllegalArgumentException(
          file + ": '" + name + "' must be a non-empty list, got " + n);
    }
    List<Integer> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isIntegralNumber()) {
        throw new IllegalArgumentException(file + ": '" + name + "' must hold integers, got " + n);
      }
      out.add(e.asInt());
    }
    return out;
  }
}
