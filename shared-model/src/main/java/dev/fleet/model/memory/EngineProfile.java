package dev.fleet.model.memory;

/**
 * How the executor computes, as far as memory is concerned.
 *
 * @param name what the profile is called in plans and messages
 * @param fusedAttention true when attention never materialises its (B, H, Lq, Lk) scores (a fused
 *     kernel such as {@code F.scaled_dot_product_attention}); false for matmul, softmax, matmul,
 *     which keeps the scores and their softmax in fp16 at once
 * @param widensPerLayer true when fp8 weights are widened to fp16 one matrix at a time right before
 *     use; false when a block is widened whole before it runs
 * @param freesTemporaries true when each of the DiT blocks' temporaries is freed once its consumer
 *     has run (PyTorch's reference counting; in DJL a scope per operation); false when a block's
 *     temporaries all live until the block returns (one DJL scope per block, as the engine's blocks
 *     are written)
 * @param encodersFreeTemporaries the same for the text encoders' layers and the decoder's blocks
 */
public record EngineProfile(
    String name,
    boolean fusedAttention,
    boolean widensPerLayer,
    boolean freesTemporaries,
    boolean encodersFreeTemporaries) {

  /** A profile whose text encoders and decoder free temporaries as its DiT blocks do. */
  public EngineProfile(
      String name, boolean fusedAttention, boolean widensPerLayer, boolean freesTemporaries) {
    this(name, fusedAttention, widensPerLayer, freesTemporaries, freesTemporaries);
  }

  /**
   * The DJL engine as its blocks are written: attention through DJL's own ops (unfused, ANCHORS.md:
   * 4.4 ms per call at 1024²), a leased block's matrices widened to fp16 as a whole, and one scope
   * per block, so every temporary of a block lives until the block returns.
   */
  public static final EngineProfile DJL_EAGER = new EngineProfile("djl-eager", false, false, false);

  /**
   * The DJL engine with a scope per operation (or temporaries closed once used): what freeing the
   * block temporaries would buy, at 1024² about 1.4 GiB of activations.
   */
  public static final EngineProfile DJL_PER_OP =
      new EngineProfile("djl-per-op", false, false, true);

  /**
   * The DJL engine on a GPU with the TorchScript helpers: attention through the fused {@code
   * scaled_dot_product_attention} (no (B, H, L, L) scores, so no attention chunking either), a
   * leased block's matrices widened to fp16 as a whole, and one scope per block as in {@link
   * #DJL_EAGER}.
   */
  public static final EngineProfile DJL_FUSED = new EngineProfile("djl-fused", true, false, false);

  /**
   * The DJL engine on a GPU with the whole-block TorchScript modules ({@code ScriptedBlocks}): each
   * block runs as eager PyTorch runs it — fused attention, float8 matrices widened one at a time
   * right before their matmul, every temporary freed after its last use — so it has the reference's
   * memory shape ({@link #TORCH_SDPA}) there. The text encoders and the decoder still run through
   * DJL's operations, their temporaries held per layer or block.
   */
  public static final EngineProfile DJL_SCRIPTED =
      new EngineProfile("djl-scripted", true, true, true, false);

  /**
   * The reference ANCHORS.md measured: PyTorch eager with SDPA, fp8 matrices cast to fp16 per
   * layer. The model reproduces its peaks within 3% (MemoryModelTest).
   */
  public static final EngineProfile TORCH_SDPA = new EngineProfile("torch-sdpa", true, true, true);

  private static final java.util.List<EngineProfile> PRESETS =
      java.util.List.of(DJL_EAGER, DJL_PER_OP, DJL_FUSED, DJL_SCRIPTED, TORCH_SDPA);

  public EngineProfile {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("an engine profile needs a name");
    }
  }

  /**
   * A preset by name.
   *
   * @throws IllegalArgumentException naming the presets
   */
  public static EngineProfile preset(String name) {
    for (EngineProfile p : PRESETS) {
      if (p.name.equals(name)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown engine profile '"
            + name
            + "' (known: "
            + String.join(", ", PRESETS.stream().map(EngineProfile::name).toList())
            + ")");
  }
}
