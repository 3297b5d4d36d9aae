package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  private static PlanDecision dev(long budget) {
    return Planner.plan(FluxDims.FLUX_DEV, Workload.of(1024, 1024), budget, Hardware.DEFAULT);
  }

  @Test
  void fluxDevAt1024FitsEightGibAndStreamsLessWithMore() {
    PlanDecision eight = dev(8 * GIB);
    PlanDecision twelve = dev(12 * GIB);
    PlanDecision sixteen = dev(16 * GIB);
    for (PlanDecision d : List.of(eight, twelve, sixteen)) {
      assertTrue(d.fits(), d.reason());
      assertTrue(
          d.chosen().predictedPeakBytes() <= d.budgetBytes() - FluxMemoryModel.RESERVE_BYTES);
    }
    long s8 = eight.chosen().streamedBytesPerStep();
    long s12 = twelve.chosen().streamedBytesPerStep();
    long s16 = sixteen.chosen().streamedBytesPerStep();
    assertTrue(s8 > s12 && s12 > s16, s8 + " > " + s12 + " > " + s16);
    // 16 GiB holds the whole fp8 DiT; T5 cannot stay beside it, so it streams once per job.
    assertEquals(0, s16);
    assertTrue(sixteen.chosen().dit().fullyResident());
    assertEquals(Strategy.T5_STREAMED, sixteen.chosen().strategy());
    // 8 GiB: part of the DiT resident, the rest streamed.
    assertEquals(Strategy.DIT_PARTIAL, eight.chosen().strategy());
    assertTrue(eight.chosen().dit().residentBlocks() > 0);
  }

  @Test
  void halfAGibFitsNothingAndSaysWhatItNeeds() {
    PlanDecision d = dev(512 * MIB);
    assertFalse(d.fits());
    assertNull(d.chosen());
    assertTrue(d.neededBytes() > 512 * MIB);
    assertEquals(d.leanest().predictedPeakBytes() + FluxMemoryModel.RESERVE_BYTES, d.neededBytes());
    assertEquals(Strategy.DIT_STREAMED, d.leanest().strategy());
    assertTrue(d.reason().startsWith("nothing fits in 0.5 GiB"), d.reason());
    assertTrue(d.alternatives().stream().noneMatch(PlanDecision.Alternative::fits));
    // Exactly the needed budget fits; a byte less does not.
    assertTrue(dev(d.neededBytes()).fits());
    assertFalse(dev(d.neededBytes() - 1).fits());
  }

  @Test
  void moreBudgetNeverStreamsMoreNorPredictsASlowerBound() {
    List<Workload> workloads =
        List.of(
            Workload.of(512, 512),
            Workload.of(768, 1344),
            Workload.of(1024, 1024),
            Workload.of(1536, 1536),
            Workload.of(2048, 2048),
            new Workload(1024, 1024, 2, StorageType.FP8),
            new Workload(1024, 1024, 1, StorageType.FP16));
    for (FluxDims model : List.of(FluxDims.FLUX_DEV, FluxDims.FLUX_SCHNELL)) {
      for (Workload w : workloads) {
        for (Hardware hw : List.of(Hardware.PCIE4_CARD, Hardware.LENT_H100)) {
          Plan previous = null;
          for (long budget = 512 * MIB; budget <= 48 * GIB; budget += 256 * MIB) {
            PlanDecision d = Planner.plan(model, w, budget, hw);
            String where = model.name() + " " + w + " " + budget / MIB + " MiB: ";
            if (previous != null) {
              assertTrue(d.fits(), where + "fitted with less budget");
              Plan p = d.chosen();
              assertTrue(
                  p.streamedBytesPerStep() <= previous.streamedBytesPerStep(),
                  where + "streams more than with less budget");
              assertTrue(
                  p.boundSecondsPerStep() <= previous.boundSecondsPerStep(),
                  where + "a slower bound than with less budget");
            }
            if (d.fits()) {
              assertTrue(d.chosen().predictedPeakBytes() <= d.usableBytes(), where);
              previous = d.chosen();
            }
          }
          assertTrue(previous != null && previous.dit().fullyResident(), model.name() + " " + w);
        }
      }
    }
  }

  @Test
  void largerImagesNeverNeedLess() {
    long previous = 0;
    for (int side = 256; side <= 4096; side += 256) {
      PlanDecision d =
          Planner.plan(FluxDims.FLUX_DEV, Workload.of(side, side), 512 * MIB, Hardware.DEFAULT);
      assertTrue(d.neededBytes() >= previous, side + ": " + d.reason());
      previous = d.neededBytes();
    }
  }

  @Test
  void theChoiceIsTheFastestFittingCandidate() {
    FluxMemoryModel memory =
        new FluxMemoryModel(FluxDims.FLUX_DEV, Workload.of(1024, 1024), EngineProfile.DJL_EAGER);
    long usable = 8 * GIB - FluxMemoryModel.RESERVE_BYTES;
    List<Plan> all = Planner.candidates(memory, usable, Hardware.DEFAULT);
    Plan fastest =
        all.stream()
            .filter(p -> p.predictedPeakBytes() <= usable)
            .min(Planner.FASTEST_FIRST)
            .orElseThrow();
    PlanDecision d = dev(8 * GIB);
    assertEquals(fastest, d.chosen());
    // No fitting candidate streams less.
    assertTrue(
        all.stream()
            .filter(p -> p.predictedPeakBytes() <= usable)
            .allMatch(p -> p.streamedBytesPerStep() >= d.chosen().streamedBytesPerStep()));
  }

  @Test
  void theSearchPricesResidenciesAsTheMemoryModelDoes() {
    FluxMemoryModel memory =
        new FluxMemoryModel(FluxDims.FLUX_DEV, Workload.of(1024, 1024), EngineProfile.DJL_EAGER);
    DitDims d = FluxDims.FLUX_DEV.dit();
    for (Planner.Encoders e : Planner.ENCODERS) {
      Planner.Shape shape = new Planner.Shape(memory, Hardware.DEFAULT, 1, e, 512, 1024);
      DitResidency none = DitResidency.none(d, StorageType.FP8);
      PhasePeaks base = memory.peaks(none, e.t5(), e.clip(), e.autoencoder(), 512, 1024);
      long buffers = memory.streamingBufferBytes(none);
      for (int kd = 0; kd <= d.depth(); kd++) {
        for (int ks = 0; ks <= d.depthSingleBlocks(); ks++) {
          DitResidency r = new DitResidency(StorageType.FP8, 19, 38, kd, ks);
          assertEquals(
              memory.peaks(r, e.t5(), e.clip(), e.autoencoder(), 512, 1024).max(),
              shape.peak(r, base, buffers),
              e + " " + kd + "/" + ks);
        }
      }
    }
  }

  @Test
  void theDecisionSaysWhy() {
    PlanDecision d = dev(8 * GIB);
    List<PlanDecision.Alternative> alts = d.alternatives();
    // One per rung, in ladder order, the chosen one among them.
    assertEquals(List.of(Strategy.values()), alts.stream().map(a -> a.plan().strategy()).toList());
    assertEquals(1, alts.stream().filter(a -> a.why().equals("chosen")).count());
    PlanDecision.Alternative allResident = alts.get(0);
    assertFalse(allResident.fits());
    assertTrue(allResident.why().contains("exceeds the 7.1 GiB usable"), allResident.why());
    String reason = d.reason();
    assertTrue(reason.startsWith(d.chosen().name() + ": peak "), reason);
    assertTrue(reason.contains("of 57 DiT blocks resident"), reason);
    assertTrue(reason.contains("faster rungs do not fit: all-resident needs"), reason);
    assertFalse(reason.contains("\n"));
  }

  @Test
  void deterministic() {
    assertEquals(dev(10 * GIB), dev(10 * GIB));
  }

  @Test
  void theTinyModelKeepsEverythingResident() {
    PlanDecision d = Planner.plan(FluxDims.TINY, Workload.of(128, 96), 8 * GIB, Hardware.DEFAULT);
    assertEquals("all-resident", d.chosen().name());
    assertEquals(0, d.chosen().streamedBytesPerStep());
    assertEquals(0, d.chosen().loadedBytesPerJob());
  }

  @Test
  void fp16StorageStreamsTwiceTheBytes() {
    PlanDecision fp8 = dev(0 + 12 * GIB);
    PlanDecision fp16 =
        Planner.plan(
            FluxDims.FLUX_DEV,
            new Workload(1024, 1024, 1, StorageType.FP16),
            12 * GIB,
            Hardware.DEFAULT);
    assertTrue(fp16.chosen().streamedBytesPerStep() > fp8.chosen().streamedBytesPerStep());
    FluxMemoryModel m16 =
        new FluxMemoryModel(
            FluxDims.FLUX_DEV,
            new Workload(1024, 1024, 1, StorageType.FP16),
            EngineProfile.DJL_EAGER);
    DitResidency none = DitResidency.none(FluxDims.FLUX_DEV.dit(), StorageType.FP16);
    assertEquals(
        2 * 11_840_337_920L - 19 * 2 * 92_672L - 38 * 2 * 34_048L, m16.streamedBytesPerStep(none));
  }

  /**
   * NewBie at 1024², fp8 blocks: with room to spare Gemma stays in 16 bits (fp8 buys nothing
   * there); in 12 GiB fp16 Gemma can only be staged, fp8 Gemma fits resident beside everything, so
   * the planner stores Gemma in fp8 and loads nothing per job; in 8 GiB neither storage lets Gemma
   * out of streaming, so it streams in 16 bits.
   */
  @Test
  void newbieStoresGemmaInFp8OnlyWhereItLetsAFasterPlanFit() {
    Workload w = new Workload(1024, 1024, 1, StorageType.FP8);
    Plan roomy = Planner.plan(NewbieDims.NEWBIE, w, 64L << 30, Hardware.DEFAULT).chosen();
    assertEquals(Residency.RESIDENT, roomy.t5());
    assertEquals(StorageType.FP16, roomy.t5Storage());
    Plan twelve = Planner.plan(NewbieDims.NEWBIE, w, 12L << 30, Hardware.DEFAULT).chosen();
    assertEquals(Residency.RESIDENT, twelve.t5());
    assertEquals(StorageType.FP8, twelve.t5Storage());
    assertTrue(twelve.name().contains("+text-fp8"), twelve.name());
    assertEquals(0, twelve.loadedBytesPerJob());
    Plan eight = Planner.plan(NewbieDims.NEWBIE, w, 8L << 30, Hardware.DEFAULT).chosen();
    assertEquals(Residency.STREAMED, eight.t5());
    assertEquals(StorageType.FP16, eight.t5Storage());
    // FLUX's T5 has one storage.
    Plan flux = dev(12 * GIB).chosen();
    assertEquals(StorageType.FP16, flux.t5Storage());
  }

  @Test
  void fusedAttentionNeedsNoChunks() {
    Workload w = Workload.of(2048, 2048);
    PlanDecision fused =
        Planner.plan(FluxDims.FLUX_DEV, w, 12 * GIB, Hardware.DEFAULT, EngineProfile.TORCH_SDPA);
    assertEquals(0, fused.chosen().attentionChunk());
    PlanDecision eager = Planner.plan(FluxDims.FLUX_DEV, w, 12 * GIB, Hardware.DEFAULT);
    assertTrue(eager.chosen().attentionChunked(), eager.reason());
    assertTrue(
        fused.chosen().streamedBytesPerStep() < eager.chosen().streamedBytesPerStep(),
        "fused attention and freed temporaries leave room for more resident blocks");
  }

  @Test
  void onAFastLinkStreamingIsFreeUntilItOutrunsCompute() {
    // On the H100 a step computes in ~0.23 s; 11.8 GB at 50.6 GB/s takes ~0.23 s too.
    PlanDecision d =
        Planner.plan(FluxDims.FLUX_DEV, Workload.of(1024, 1024), 8 * GIB, Hardware.LENT_H100);
    Plan p = d.chosen();
    assertEquals(74.4e12 / 329e12, p.computeSecondsPerStep(), 0.002);
    assertEquals(p.streamedBytesPerStep() / 50.6e9, p.transferSecondsPerStep(), 1e-9);
    assertEquals(
        Math.max(p.computeSecondsPerStep(), p.transferSecondsPerStep()), p.boundSecondsPerStep());
  }
}
