package dev.fleet.model.memory;

/**
 * A model family's memory formulas for one job: what the {@link Planner} prices every plan with,
 * and what the engine's ledger books. Each family brings its own (FLUX's is {@link
 * FluxMemoryModel}); the planner, the memory classes and the ledger only see this interface.
 *
 * <p>The phases are {@link Phase}'s: two text encoders (named after FLUX's T5 and CLIP, whose
 * residencies a {@link Plan} carries), the denoiser, whose blocks may stream ({@link
 * DitResidency}), and the autoencoder's decode.
 */
public interface MemoryModel {
  /**
   * Device memory a worker cannot plan with: the CUDA context (≈ 0.5 GiB with libtorch 2.x on an
   * H100), cuBLAS and cuDNN workspaces, and fragmentation of the caching allocator. A first figure
   * from the published CUDA context sizes, to be calibrated on the lent H100 with the benchmark
   * (measured peak against predicted peak).
   */
  long RESERVE_BYTES = 900 * ByteSize.MIB;

  /** One float32 scale per fp8 matrix (ComfyUI's scaled fp8; plain fp8 is counted the same). */
  long FP8_SCALE_BYTES = 4;

  /**
   * What the two text-encoder slots hold, in the order of {@link Phase}'s {@code T5} and {@code
   * CLIP} (and of a {@link Plan}'s {@code t5} and {@code clip} residencies): FLUX's T5 and CLIP by
   * default.
   */
  default java.util.List<String> textEncoders() {
    return java.util.List.of("t5", "clip");
  }

  /** The job's shape. */
  Workload workload();

  /**
   * This job under each storage of the first text encoder's matrices the family's executor can run,
   * this model's own first: the planner weighs the plans of every one ({@link
   * Workload#textStorage}). One, this model, unless a family offers more (NewBie's Gemma 3 in fp16
   * or fp8).
   */
  default java.util.List<MemoryModel> textStorageVariants() {
    return java.util.List.of(this);
  }

  /** How the executor holds temporaries. */
  EngineProfile engine();

  /** The denoiser's blocks: what a {@link DitResidency} keeps resident or streams. */
  DitDims dit();

  /** The joint sequence the denoiser's attention sees (image and text tokens). */
  long tokens();

  /** Floating-point operations of one denoising step. */
  double flopsPerStep();

  /** The resident blocks of {@code dit}. */
  long residentBlockBytes(DitResidency dit);

  /** Bytes copied host-to-device each step: every block that is not resident. */
  long streamedBytesPerStep(DitResidency dit);

  /** Device buffers for the streamed blocks; none when every block is resident. */
  long streamingBufferBytes(DitResidency dit);

  /** Stored bytes of one double (two-stream) block; 0 for a family without them. */
  long doubleBlockBytes();

  /** Stored bytes of one single (joint-stream) block. */
  long singleBlockBytes();

  /** The denoiser's weights outside its blocks (embedders, final layer), always resident. */
  long ditNonBlockBytes();

  /** The job's LoRA side paths on the device. */
  long adapterBytes();

  /** The first text encoder's weights on the device (FLUX's T5). */
  long t5Bytes();

  /** The second text encoder's weights on the device (FLUX's CLIP). */
  long clipBytes();

  /** The autoencoder's weights on the device. */
  long autoencoderBytes();

  /**
   * What stays on the device through every phase: the denoiser's weights outside its blocks, its
   * resident blocks, and each component a plan keeps resident.
   */
  default long persistentBytes(DitResidency dit, Residency t5, Residency clip, Residency ae) {
    long bytes = ditNonBlockBytes() + residentBlockBytes(dit);
    if (t5 == Residency.RESIDENT) {
      bytes += t5Bytes();
    }
    if (clip == Residency.RESIDENT) {
      bytes += clipBytes();
    }
    if (ae == Residency.RESIDENT) {
      bytes += autoencoderBytes();
    }
    return bytes;
  }

  /**
   * The first text encoder's phase beyond what is resident everywhere: its weights on the device
   * under {@code t5} (none when resident, all when staged, a streamed share) and its activations.
   */
  long firstTextPhaseBytes(Residency t5);

  /**
   * The second text encoder's phase beyond what is resident everywhere and its own weights: the
   * first encoder's output it is held beside, and its activations.
   */
  long secondTextPhaseBytes();

  /** Denoising beyond what is resident everywhere: its state, stream buffers, a block computing. */
  long denoiseWorkingBytes(DitResidency dit, int chunk);

  /** The decode beyond what is resident everywhere: the job's latents and the decoder's arrays. */
  long decodeWorkingBytes(int tile);

  /**
   * The predicted peak of every phase of a job under these residencies: each phase brings its own
   * to what is resident everywhere ({@link #persistentBytes}), a staged component its weights.
   *
   * @param tile decode tile side in pixels, 0 for untiled
   * @param chunk attention query rows per call, 0 for all at once
   * @throws IllegalArgumentException when the second text encoder or the autoencoder would stream
   */
  default PhasePeaks peaks(
      DitResidency dit, Residency t5, Residency clip, Residency ae, int tile, int chunk) {
    if (clip == Residency.STREAMED || ae == Residency.STREAMED) {
      throw new IllegalArgumentException(
          "only the first text encoder ("
              + textEncoders().get(0)
              + ") and the DiT stream; the second ("
              + textEncoders().get(1)
              + ") and the autoencoder are resident or staged");
    }
    long resident = persistentBytes(dit, t5, clip, ae);
    return new PhasePeaks(
        resident + firstTextPhaseBytes(t5),
        resident + (clip == Residency.STAGED ? clipBytes() : 0) + secondTextPhaseBytes(),
        resident + denoiseWorkingBytes(dit, chunk),
        resident + (ae == Residency.STAGED ? autoencoderBytes() : 0) + decodeWorkingBytes(tile));
  }
}
