package dev.fleet.model.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.MemoryEstimate.Family;
import dev.fleet.model.job.MemoryEstimate.Fits;
import dev.fleet.model.job.MemoryEstimate.TooLarge;
import org.junit.jupiter.api.Test;

class MemoryEstimateTest {
  private static final long GIB = 1L << 30;

  private static GenerationSpec spec(int w, int h) {
    return new GenerationSpec("a fox", 1, 4, w, h, 3.5, "m");
  }

  @Test
  void peakIsResidentPlusActivationsByHand() {
    // flux-tiny at 128x96: 48 image tokens + 32 text tokens = 80.
    long hidden = 80L * 64 * 2 * 16;
    long scores = 2L * 80 * 80 * 2 * 2;
    long decode = 128L * 96 * 32 * 2 * 3;
    assertEquals(
        Family.FLUX_TINY.residentBytes() + hidden + scores + decode,
        MemoryEstimate.peakBytes(spec(128, 96), Family.FLUX_TINY));
  }

  @Test
  void theTinyModelFitsTheSmallestClassAtAnySize() {
    var route = MemoryEstimate.route(spec(1024, 1024), Family.FLUX_TINY);
    assertEquals(MemoryClass.VRAM_8G, assertInstanceOf(Fits.class, route).memoryClass());
  }

  @Test
  void fluxGoesToTheSmallestClassThatHoldsIt() {
    var megapixel =
        assertInstanceOf(Fits.class, MemoryEstimate.route(spec(1024, 1024), Family.FLUX_1));
    assertEquals(MemoryClass.VRAM_8G, megapixel.memoryClass());
    assertTrue(megapixel.peakBytes() > 4 * GIB && megapixel.peakBytes() < 8 * GIB);

    var larger =
        assertInstanceOf(Fits.class, MemoryEstimate.route(spec(1536, 1536), Family.FLUX_1));
    assertEquals(MemoryClass.VRAM_16G, larger.memoryClass());
  }

  @Test
  void growsWithTheImageAndIsRefusedPastTheLargestClass() {
    long small = MemoryEstimate.peakBytes(spec(512, 512), Family.FLUX_1);
    long large = MemoryEstimate.peakBytes(spec(1024, 1024), Family.FLUX_1);
    assertTrue(large > small);

    GenerationSpec huge = spec(2048, 2048);
    var refused = assertInstanceOf(TooLarge.class, MemoryEstimate.route(huge, Family.FLUX_1));
    assertEquals(MemoryClass.VRAM_16G, refused.largest());
    assertTrue(refused.peakBytes() > MemoryClass.VRAM_16G.budgetBytes());
    String why = refused.explain(huge);
    assertTrue(
        why.contains("2048x2048") && why.contains("vram-16g") && why.contains("16.0 GiB"), why);
  }

  @Test
  void classesAreOrderedAndNamedAsTheirTopics() {
    MemoryClass[] classes = MemoryClass.bySize();
    for (int i = 1; i < classes.length; i++) {
      assertTrue(classes[i].budgetBytes() > classes[i - 1].budgetBytes());
    }
    assertEquals("vram-12g", MemoryClass.VRAM_12G.topic());
    assertEquals(12 * GIB, MemoryClass.VRAM_12G.budgetBytes());
    assertEquals(MemoryClass.VRAM_16G, MemoryClass.byName("vram-16g").orElseThrow());
    assertEquals(Family.FLUX_1, Family.byName("flux-1").orElseThrow());
  }
}
