package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * NewBie-image's memory formulas against values computed by hand for a small shape (d 12, 2 heads
 * of 6, one KV head, f 32, one joint block, one refiner block of each kind; a 16x16 image is 16
 * tokens beside 8 caption tokens), and its presets against the published model's size.
 */
class NewbieMemoryModelTest {
  static final NewbieDims SMALL =
      new NewbieDims(
          "small",
          new NextDitDims(2, 4, 12, 1, 1, 2, 1, 32, 6, 4, List.of(2, 2, 2)),
          new GemmaDims(10, 6, 4, 2, 1, 4, 8, 8),
          new JinaDims(10, 4, 1, 2, 8, 8),
          new AutoencoderDims(3, 8, 3, List.of(1, 2), 1, 4));

  static final NewbieMemoryModel HELD =
      SMALL.memoryModel(new Workload(16, 16, 1, StorageType.FP8), EngineProfile.DJL_EAGER);

  static final NewbieMemoryModel FREED =
      SMALL.memoryModel(new Workload(16, 16, 1, StorageType.FP8), EngineProfile.TORCH_SDPA);

  @Test
  void parameterCountsFollowTheTensors() {
    NextDitDims d = SMALL.nextDit();
    // qkv (12 + 2*6) x 12, out 12 x 12, w1 w2 w3 3 x 32 x 12, adaLN 48 x 12.
    assertEquals(288 + 144 + 1152 + 576, d.blockMatrixParams(true));
    // q and k norms 2 x 6, four RMS norms 4 x 12, adaLN bias 48.
    assertEquals(12 + 48 + 48, d.blockVectorParams(true));
    // time embedder 3240, pooled-CLIP path 64, time_text_embed 300, caption embedder 90,
    // x_embedder 204, final layer 156 + 208, norm_final 12, one unmodulated context refiner 1644.
    assertEquals(3240 + 64 + 300 + 90 + 204 + 156 + 208 + 12 + 1644, d.nonBlockParams());
    assertEquals(2, d.streamableBlocks());
    // Gemma: embedding 10 x 6 and 3 of its 4 layers (320 each: q, k, v, o, GeGLU, norms).
    assertEquals(60 + 3 * 320, SMALL.gemma().params());
    // Jina: 11 embedding rows, the embedding norm, one layer of 172.
    assertEquals(44 + 8 + 172, SMALL.jina().params());
  }

  @Test
  void blocksAreFp8MatricesWithScalesAndSixteenBitVectors() {
    assertEquals(2160 + 6 * 4 + 108 * 2, HELD.singleBlockBytes());
    NewbieMemoryModel fp16 =
        SMALL.memoryModel(new Workload(16, 16, 1, StorageType.FP16), EngineProfile.DJL_EAGER);
    assertEquals(2160 * 2 + 108 * 2, fp16.singleBlockBytes());
    assertEquals(0, HELD.doubleBlockBytes());
    DitResidency half = new DitResidency(StorageType.FP8, 0, 2, 0, 1);
    assertEquals(2400, HELD.residentBlockBytes(half));
    assertEquals(2400, HELD.streamedBytesPerStep(half));
    assertEquals(2 * 2400, HELD.streamingBufferBytes(half));
    assertEquals(0, HELD.streamingBufferBytes(DitResidency.all(SMALL.dit(), StorageType.FP8)));
  }

  /**
   * Gemma's layer matrices in fp8: q and o 8 x 6, k and v 4 x 6, gate, up and down 8 x 6 (288
   * weights, a byte each, and 7 float32 scales), the norm vectors (4 x 6 + 2 x 4) in fp16; the
   * embedding (10 x 6) stays fp16. Its phase adds one layer's matrices widened to fp16 and the
   * lookup's int64 indices of the largest (48 weights).
   */
  @Test
  void gemmasMatricesInFp8AreABytePerWeightWidenedPerLayer() {
    NewbieMemoryModel fp8 =
        SMALL.memoryModel(
            new Workload(16, 16, 1, StorageType.FP8).withTextStorage(StorageType.FP8),
            EngineProfile.DJL_EAGER);
    assertEquals(288, SMALL.gemma().layerMatrixParams());
    assertEquals(32, SMALL.gemma().layerVectorParams());
    assertEquals(48, SMALL.gemma().largestLayerMatrix());
    assertEquals(288 + 7 * 4 + 32 * 2, fp8.gemmaLayerBytes());
    assertEquals((288 + 32) * 2, HELD.gemmaLayerBytes());
    assertEquals(60 * 2 + 3 * 380, fp8.t5Bytes());
    assertEquals(SMALL.gemma().params() * 2, HELD.t5Bytes());
    assertEquals(fp8.t5Bytes(), fp8.gemmaWeightBytes(Residency.STAGED));
    assertEquals(60 * 2 + 2 * 380, fp8.gemmaWeightBytes(Residency.STREAMED));
    assertEquals(288 * 2 + 8 * 48, fp8.gemmaWideningBytes());
    assertEquals(0, HELD.gemmaWideningBytes());
    assertEquals(
        fp8.gemmaWideningBytes() + fp8.gemmaActivationBytes(),
        fp8.firstTextPhaseBytes(Residency.RESIDENT));
    // The planner weighs both storages, this model's first.
    List<MemoryModel> variants = HELD.textStorageVariants();
    assertEquals(2, variants.size());
    assertEquals(StorageType.FP16, variants.get(0).workload().textStorage());
    assertEquals(StorageType.FP8, variants.get(1).workload().textStorage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new Workload(16, 16, 1, StorageType.FP8).withTextStorage(StorageType.BF16));
  }

  @Test
  void guidanceDoublesTheDenoisersBatch() {
    assertEquals(2, HELD.denoiserBatch());
    assertEquals(16, HELD.imageTokens());
    assertEquals(24, HELD.tokens());
    // Held: attention 24 (6*12 + 3*6), feed-forward 24 (3*12 + 3*32), float32 norm copies
    // 24 (8*12 + 4*18), fp16, batch 2; unfused scores 2 * 2 * 2 heads * 24 * 24 fp16; adaLN
    // vectors 2 * 4 * 12 fp16.
    assertEquals((2160 + 3168 + 4032) * 2 * 2 + 9216 + 192, HELD.blockActivationBytes(24, 0));
    // Freed and fused: the feed-forward moment.
    assertEquals(3168 * 2 * 2 + 192, FREED.blockActivationBytes(24, 0));
    // A batch of two images is four passes.
    NewbieMemoryModel two =
        SMALL.memoryModel(new Workload(16, 16, 2, StorageType.FP8), EngineProfile.TORCH_SDPA);
    assertEquals(2 * 3168 * 2 * 2 + 2 * 192, two.blockActivationBytes(24, 0));
  }

  @Test
  void chunkedAttentionBoundsTheScores() {
    long whole = HELD.blockActivationBytes(24, 0);
    long chunked = HELD.blockActivationBytes(24, 8);
    assertEquals(2L * 2 * 2 * (24 - 8) * 24 * 2, whole - chunked);
  }

  @Test
  void gemmaStagesOrStreamsAndHandsItsFeaturesToJina() {
    assertEquals(0, HELD.gemmaWeightBytes(Residency.RESIDENT));
    assertEquals((60 + 3 * 320) * 2, HELD.gemmaWeightBytes(Residency.STAGED));
    assertEquals((60 + 2 * 320) * 2, HELD.gemmaWeightBytes(Residency.STREAMED));
    // Prompt and negative prompt: 2 x 8 tokens x 6.
    assertEquals(2 * 8 * 6 * 2, HELD.gemmaOutputBytes());
    // Gemma at S 8: attention 8 (4*6 + 5*8 + 3*4) + 2 * 2 * 64, feed-forward 8 (4*6 + 8*8)
    // (held: both), batch 2 in fp16, plus two float32 masks (2, 8, 8).
    long attention = 8 * (24 + 40 + 12) + 2 * 2 * 64;
    long ffn = 8 * (24 + 64);
    assertEquals((attention + ffn) * 2 * 2 + 2 * 2 * 64 * 4, HELD.gemmaActivationBytes());
  }

  @Test
  void phasesAddWhatIsResidentToWhatThePhaseBrings() {
    DitResidency all = DitResidency.all(SMALL.dit(), StorageType.FP8);
    PhasePeaks p = HELD.peaks(all, Residency.STAGED, Residency.STAGED, Residency.STAGED, 0, 0);
    long resident = HELD.ditNonBlockBytes() + 2 * 2400;
    assertEquals(resident + HELD.t5Bytes() + HELD.gemmaActivationBytes(), p.t5());
    assertEquals(
        resident + HELD.clipBytes() + HELD.gemmaOutputBytes() + HELD.jinaActivationBytes(),
        p.clip());
    assertEquals(resident + HELD.denoiseWorkingBytes(all, 0), p.denoise());
    assertEquals(resident + HELD.autoencoderBytes() + HELD.decodeWorkingBytes(0), p.decode());
    PhasePeaks residentText =
        HELD.peaks(all, Residency.RESIDENT, Residency.RESIDENT, Residency.RESIDENT, 0, 0);
    assertEquals(
        p.denoise() + HELD.t5Bytes() + HELD.clipBytes() + HELD.autoencoderBytes(),
        residentText.denoise());
    assertThrows(
        IllegalArgumentException.class,
        () -> HELD.peaks(all, Residency.STAGED, Residency.STREAMED, Residency.STAGED, 0, 0));
  }

  @Test
  void theDecoderIsPricedAsFluxPricesTheSameAutoencoder() {
    FluxMemoryModel flux =
        FluxDims.FLUX_DEV.memoryModel(Workload.of(1024, 1024), EngineProfile.DJL_EAGER);
    NewbieMemoryModel newbie =
        NewbieDims.NEWBIE.memoryModel(Workload.of(1024, 1024), EngineProfile.DJL_EAGER);
    assertEquals(
        flux.decodeActivationBytes(512, 2),
        newbie.decodeWorkingBytes(512) - newbie.jobStateBytes());
    assertEquals(flux.autoencoderBytes(), newbie.autoencoderBytes());
  }

  @Test
  void thePublishedModelIsAboutThreeAndAHalfBillionParameters() {
    long dit = NewbieDims.NEWBIE.nextDit().params();
    assertTrue(dit > 3.4e9 && dit < 3.6e9, "Next-DiT params " + dit);
    // Gemma-3-4B's text model without its last layer: ≈ 3.8 B, the largest component.
    long gemma = NewbieDims.NEWBIE.gemma().params();
    assertTrue(gemma > 3.7e9 && gemma < 3.9e9, "Gemma params " + gemma);
    long jina = NewbieDims.NEWBIE.jina().params();
    assertTrue(jina > 0.5e9 && jina < 0.6e9, "Jina params " + jina);
    assertEquals(40, NewbieDims.NEWBIE.nextDit().layers() + 2 * 2);
    assertEquals(38, NewbieDims.NEWBIE.dit().depthSingleBlocks());
    assertEquals(0, NewbieDims.NEWBIE.dit().depth());
  }

  @Test
  void presetsAreListedWithFluxsWithoutClashing() {
    assertTrue(ModelDims.preset("newbie").orElseThrow() instanceof NewbieDims);
    assertTrue(ModelDims.preset("newbie-tiny").orElseThrow() instanceof NewbieDims);
    assertTrue(ModelDims.preset("tiny").orElseThrow() instanceof FluxDims);
    List<String> names = ModelDims.presetNames();
    assertEquals(names.stream().distinct().toList(), names);
    assertTrue(names.containsAll(List.of("newbie", "newbie-tiny", "flux-dev", "tiny")));
  }

  @Test
  void mismatchedComponentsAndSizesAreRefusedByName() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new NewbieDims(
                    "bad",
                    SMALL.nextDit(),
                    new GemmaDims(10, 8, 4, 2, 1, 4, 8, 8),
                    SMALL.jina(),
                    SMALL.autoencoder()));
    assertTrue(e.getMessage().contains("cap_feat_dim"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                SMALL.memoryModel(
                    new Workload(18, 16, 1, StorageType.FP8), EngineProfile.DJL_EAGER));
    assertTrue(e.getMessage().contains("multiples of 4"), e.getMessage());
  }

  @Test
  void theNewbieModelFitsEightGibOnlyByStreaming() {
    PlanDecision d =
        Planner.plan(
            NewbieDims.NEWBIE,
            Workload.of(1024, 1024),
            8 * ByteSize.GIB,
            Hardware.DEFAULT,
            EngineProfile.DJL_SCRIPTED);
    assertTrue(d.fits(), d.reason());
    assertTrue(d.chosen().predictedPeakBytes() <= 8 * ByteSize.GIB - MemoryModel.RESERVE_BYTES);
    // Gemma alone is ≈ 7 GiB in fp16: staged whole it does not fit beside anything.
    assertTrue(d.chosen().t5() == Residency.STREAMED, d.chosen().name());
  }
}
