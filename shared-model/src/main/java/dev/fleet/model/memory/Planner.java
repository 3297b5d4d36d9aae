package dev.fleet.model.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Picks how to run a job within a device-memory budget: the fastest plan whose predicted peak fits
 * the budget less {@link MemoryModel#RESERVE_BYTES}. Deterministic, no I/O.
 *
 * <p>The plans considered combine: text encoders resident, staged, or (T5) streamed, the first
 * one's matrices in each storage its family's executor runs ({@link
 * MemoryModel#textStorageVariants}: fp16, and for NewBie's Gemma 3 fp8 too); the autoencoder
 * resident or staged; decode whole or in tiles of {@link #DECODE_TILES} pixels; attention whole or
 * in chunks of {@link #ATTENTION_CHUNKS} queries (unfused attention only); and for each such
 * combination the DiT wholly resident, fully streamed, and with the most blocks resident that fit.
 * They are ranked by {@link #FASTEST_FIRST}.
 *
 * <p>The choice is the first fitting plan in a fixed order over a fixed set (every residency of
 * every combination; the search keeps, per combination, the fitting residency that streams least,
 * which is the one that order would pick). So more budget can only choose a plan that ranks at
 * least as well: never a slower bound, never more bytes streamed per step.
 */
public final class Planner {
  /** Decode tile sides tried, in pixels, largest first (each includes its overlap). */
  static final List<Integer> DECODE_TILES = List.of(1024, 512, 256);

  /** Attention query chunks tried, in tokens, largest first. */
  static final List<Integer> ATTENTION_CHUNKS = List.of(4096, 2048, 1024, 512, 256);

  /**
   * Fastest first: the per-step bound, then the bytes streamed per step (which decide the bound on
   * a slower link), then the components loaded per job (fewer first; for the plans the planner
   * makes, the order of their bytes in 16 bits, since the text encoders move together and the
   * autoencoder is the only other); then the simpler residency; then the first text encoder's
   * matrices in 16 bits before fp8, so that fp8 (one e4m3fn rounding per weight) is chosen only
   * where it lets a faster plan fit (a better bound, less streamed, fewer components loaded, or the
   * encoder resident or staged instead of streamed), never just because it loads fewer bytes; then
   * decoding whole before tiles (larger tiles first), attention whole before chunks (larger first);
   * fewer bytes loaded per job, and the smaller peak last.
   */
  public static final Comparator<Plan> FASTEST_FIRST =
      Comparator.comparingDouble(Plan::boundSecondsPerStep)
          .thenComparingLong(Plan::streamedBytesPerStep)
          .thenComparingInt(Plan::componentsLoadedPerJob)
          .thenComparing(Plan::t5)
          .thenComparing(Plan::clip)
          .thenComparing(Plan::autoencoder)
          .thenComparing(p -> p.t5Storage() == StorageType.FP8)
          .thenComparingInt(p -> offFirst(p.decodeTile()))
          .thenComparingInt(p -> offFirst(p.attentionChunk()))
          .thenComparingLong(Plan::loadedBytesPerJob)
          .thenComparingLong(Plan::predictedPeakBytes);

  /** Text-encoder and autoencoder residencies that make sense together. */
  record Encoders(Residency t5, Residency clip, Residency autoencoder) {}

  static final List<Encoders> ENCODERS =
      List.of(
          new Encoders(Residency.RESIDENT, Residency.RESIDENT, Residency.RESIDENT),
          new Encoders(Residency.STAGED, Residency.STAGED, Residency.RESIDENT),
          new Encoders(Residency.STAGED, Residency.STAGED, Residency.STAGED),
          new Encoders(Residency.STREAMED, Residency.STAGED, Residency.RESIDENT),
          new Encoders(Residency.STREAMED, Residency.STAGED, Residency.STAGED));

  private Planner() {}

  /** {@link #plan(ModelDims, Workload, long, Hardware, EngineProfile)} for the engine as it is. */
  public static PlanDecision plan(
      ModelDims model, Workload workload, long budgetBytes, Hardware hardware) {
    return plan(model, workload, budgetBytes, hardware, EngineProfile.DJL_EAGER);
  }

  /**
   * {@link #plan(MemoryModel, long, Hardware)} under the memory model of {@code model}'s family.
   *
   * @throws IllegalArgumentException when the image size does not suit the model
   */
  public static PlanDecision plan(
      ModelDims model,
      Workload workload,
      long budgetBytes,
      Hardware hardware,
      EngineProfile engine) {
    return plan(model.memoryModel(workload, engine), budgetBytes, hardware);
  }

  /**
   * The fastest plan for the job {@code memory} prices whose peak fits {@code budgetBytes} less the
   * reserve, with the best plan of every rung of the ladder and why it was or was not chosen.
   */
  public static PlanDecision plan(MemoryModel memory, long budgetBytes, Hardware hardware) {
    long usable = budgetBytes - MemoryModel.RESERVE_BYTES;
    List<Plan> candidates = candidates(memory, usable, hardware);
    candidates.sort(FASTEST_FIRST);
    Plan chosen = null;
    for (Plan p : candidates) {
      if (p.predictedPeakBytes() <= usable) {
        chosen = p;
        break;
      }
    }
    Plan leanest =
        candidates.stream()
            .min(Comparator.comparingLong(Plan::predictedPeakBytes).thenComparing(FASTEST_FIRST))
            .orElseThrow();
    return new PlanDecision(
        budgetBytes,
        MemoryModel.RESERVE_BYTES,
        chosen,
        leanest,
        alternatives(candidates, usable, chosen));
  }

  /** Every plan the planner weighs for this usable memory, unordered. */
  static List<Plan> candidates(MemoryModel memory, long usable, Hardware hardware) {
    DitDims dit = memory.dit();
    StorageType storage = memory.workload().ditStorage();
    double computeSeconds = hardware.computeSeconds(memory.flopsPerStep());
    List<Plan> plans = new ArrayList<>();
    for (MemoryModel variant : memory.textStorageVariants()) {
      for (Encoders e : ENCODERS) {
        for (int tile : tiles(variant)) {
          for (int chunk : chunks(variant)) {
            Shape shape = new Shape(variant, hardware, computeSeconds, e, tile, chunk);
            plans.add(shape.plan(DitResidency.all(dit, storage)));
            plans.add(shape.plan(DitResidency.none(dit, storage)));
            plans.add(shape.plan(shape.mostResidentFitting(usable)));
          }
        }
      }
    }
    return plans;
  }

  /** 0 (whole) and each tile smaller than the image's longer side. */
  private static List<Integer> tiles(MemoryModel memory) {
    int longer = Math.max(memory.workload().width(), memory.workload().height());
    List<Integer> tiles = new ArrayList<>(List.of(0));
    DECODE_TILES.stream().filter(t -> t < longer).forEach(tiles::add);
    return tiles;
  }

  /** 0 (whole) and, for unfused attention, each chunk shorter than the joint sequence. */
  private static List<Integer> chunks(MemoryModel memory) {
    List<Integer> chunks = new ArrayList<>(List.of(0));
    if (!memory.engine().fusedAttention()) {
      ATTENTION_CHUNKS.stream().filter(c -> c < memory.tokens()).forEach(chunks::add);
    }
    return chunks;
  }

  /** One combination of encoders, tile and chunk, priced for any DiT residency. */
  record Shape(
      MemoryModel memory,
      Hardware hardware,
      double computeSeconds,
      Encoders encoders,
      int tile,
      int chunk) {

    Plan plan(DitResidency dit) {
      long streamed = memory.streamedBytesPerStep(dit);
      return new Plan(
          dit,
          encoders.t5(),
          memory.workload().textStorage(),
          encoders.clip(),
          encoders.autoencoder(),
          tile,
          chunk,
          memory.peaks(dit, encoders.t5(), encoders.clip(), encoders.autoencoder(), tile, chunk),
          streamed,
          loadedBytesPerJob(),
          computeSeconds,
          hardware.transferSeconds(streamed));
    }

    long loadedBytesPerJob() {
      long bytes = encoders.t5() == Residency.RESIDENT ? 0 : memory.t5Bytes();
      bytes += encoders.clip() == Residency.RESIDENT ? 0 : memory.clipBytes();
      bytes += encoders.autoencoder() == Residency.RESIDENT ? 0 : memory.autoencoderBytes();
      return bytes;
    }

    /**
     * The job's peak under {@code dit}, from {@code base} (the phases with no block resident):
     * every phase carries the resident blocks, and denoising's stream buffers depend on which kinds
     * stream. Equal to {@code memory.peaks(dit, ...).max()} (PlannerTest checks), without
     * re-deriving the phases for each of the searched residencies.
     */
    long peak(DitResidency dit, PhasePeaks base, long baseBuffers) {
      long denoise = base.denoise() - baseBuffers + memory.streamingBufferBytes(dit);
      long others = Math.max(Math.max(base.t5(), base.clip()), base.decode());
      return memory.residentBlockBytes(dit) + Math.max(others, denoise);
    }

    /**
     * The residency with the most resident bytes (the least streamed) whose peak fits {@code
     * usable}; when not even one block fits, the smallest partial residency (one block), whose peak
     * then says by how much it misses. For a fixed number of double blocks the peak grows with the
     * single blocks, except that making the last one resident frees a stream buffer: so the search
     * tries all of them first, then counts down.
     */
    DitResidency mostResidentFitting(long usable) {
      DitDims d = memory.dit();
      StorageType storage = memory.workload().ditStorage();
      DitResidency none = DitResidency.none(d, storage);
      PhasePeaks base =
          memory.peaks(none, encoders.t5(), encoders.clip(), encoders.autoencoder(), tile, chunk);
      long baseBuffers = memory.streamingBufferBytes(none);
      DitResidency best = null;
      long bestBytes = -1;
      for (int kd = 0; kd <= d.depth(); kd++) {
        for (int ks = d.depthSingleBlocks(); ks >= 0; ks--) {
          DitResidency r = new DitResidency(storage, d.depth(), d.depthSingleBlocks(), kd, ks);
          if (peak(r, base, baseBuffers) <= usable) {
            long bytes = memory.residentBlockBytes(r);
            if (bytes > bestBytes) {
              best = r;
              bestBytes = bytes;
            }
            break;
          }
        }
      }
      if (best != null) {
        return best;
      }
      return d.depthSingleBlocks() > 0
          ? new DitResidency(storage, d.depth(), d.depthSingleBlocks(), 0, 1)
          : new DitResidency(storage, d.depth(), d.depthSingleBlocks(), 1, 0);
    }
  }

  /**
   * The best plan of each rung: its fastest fitting plan, or its leanest when none of it fits, with
   * why it was or was not chosen.
   */
  private static List<PlanDecision.Alternative> alternatives(
      List<Plan> fastestFirst, long usable, Plan chosen) {
    Map<Strategy, Plan> best = new EnumMap<>(Strategy.class);
    for (Plan p : fastestFirst) {
      Plan current = best.get(p.strategy());
      boolean fits = p.predictedPeakBytes() <= usable;
      if (current == null) {
        best.put(p.strategy(), p);
      } else if (current.predictedPeakBytes() > usable
          && (fits || p.predictedPeakBytes() < current.predictedPeakBytes())) {
        best.put(p.strategy(), p);
      }
    }
    List<PlanDecision.Alternative> out = new ArrayList<>();
    for (Map.Entry<Strategy, Plan> e : best.entrySet()) {
      Plan p = e.getValue();
      boolean fits = p.predictedPeakBytes() <= usable;
      out.add(new PlanDecision.Alternative(p, fits, why(p, fits, usable, chosen)));
    }
    return out;
  }

  private static String why(Plan p, boolean fits, long usable, Plan chosen) {
    if (p == chosen) {
      return "chosen";
    }
    if (!fits) {
      return String.format(
          Locale.ROOT,
          "peak %s (%s) exceeds the %s usable",
          ByteSize.gib(p.predictedPeakBytes()),
          p.peakPhase().label(),
          ByteSize.gib(usable));
    }
    if (p.boundSecondsPerStep() > chosen.boundSecondsPerStep()) {
      return String.format(
          Locale.ROOT,
          "fits, but slower: bound %.3f s/step against %.3f",
          p.boundSecondsPerStep(),
          chosen.boundSecondsPerStep());
    }
    if (p.streamedBytesPerStep() > chosen.streamedBytesPerStep()) {
      return "fits, but streams "
          + ByteSize.gb(p.streamedBytesPerStep() - chosen.streamedBytesPerStep())
          + " more per step";
    }
    if (p.loadedBytesPerJob() > chosen.loadedBytesPerJob()) {
      return "fits, but loads "
          + ByteSize.gb(p.loadedBytesPerJob() - chosen.loadedBytesPerJob())
          + " more per job";
    }
    return "fits, but ranks after the chosen plan (a slower residency, fp8 text matrices, more"
        + " tiling or chunking)";
  }

  /** Ranks 0 (off) first, then larger values first. */
  private static int offFirst(int size) {
    return size == 0 ? Integer.MIN_VALUE : -size;
  }
}
