package dev.fleet.engine.lora;

/**
 * One low-rank update of a slice of one linear layer of the DiT, in BFL's names: {@code
 * ΔW[rowOffset .. rowOffset+out, 0 .. in] = scale · up · down}, float32 on the host.
 *
 * @param module the BFL linear layer, e.g. {@code double_blocks.0.img_attn.qkv}
 * @param rowOffset the first output row of the layer the update covers (a q, k or v slice of a
 *     fused projection starts past 0)
 * @param rank r
 * @param in input features the update reads (the first {@code in} inputs of the layer)
 * @param out output rows the update writes
 * @param down (rank, in), row-major
 * @param up (out, rank), row-major
 * @param scale alpha / rank (1 without an alpha)
 * @param source the file's name of the module, for messages
 */
public record LoraPatch(
    String module,
    long rowOffset,
    int rank,
    int in,
    int out,
    float[] down,
    float[] up,
    float scale,
    String source) {

  /**
   * The prefix of CLIP text-encoder layers, in Hugging Face's names within {@code text_model}:
   * {@code clip.encoder.layers.N.self_attn.q_proj}, {@code clip.encoder.layers.N.mlp.fc1}.
   */
  public static final String CLIP = "clip.";

  /** True when this update belongs to the CLIP text encoder, not the DiT. */
  public boolean isClip() {
    return module.startsWith(CLIP);
  }

  public LoraPatch {
    if (down.length != (long) rank * in || up.length != (long) out * rank) {
      throw new IllegalArgumentException(
          source + ": down has " + down.length + " values, up " + up.length + " for rank " + rank);
    }
  }

  /** Host bytes of the two factors (float32). */
  public long hostBytes() {
    return 4L * (down.length + up.length);
  }
}
