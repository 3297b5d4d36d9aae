package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EngineProfileTest {
  private static final long GIB = 1L << 30;

  @Test
  void presetsAreFoundByName() {
    assertSame(EngineProfile.DJL_EAGER, EngineProfile.preset("djl-eager"));
    assertSame(EngineProfile.DJL_PER_OP, EngineProfile.preset("djl-per-op"));
    assertSame(EngineProfile.DJL_FUSED, EngineProfile.preset("djl-fused"));
    assertSame(EngineProfile.DJL_SCRIPTED, EngineProfile.preset("djl-scripted"));
    assertSame(EngineProfile.TORCH_SDPA, EngineProfile.preset("torch-sdpa"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EngineProfile.preset("tensorrt"));
    assertTrue(e.getMessage().contains("djl-fused"), e.getMessage());
  }

  @Test
  void fusedDjlHasNoScoresButKeepsTheBlockScopes() {
    EngineProfile fused = EngineProfile.DJL_FUSED;
    assertTrue(fused.fusedAttention());
    assertFalse(fused.widensPerLayer());
    assertFalse(fused.freesTemporaries());
    Workload w = Workload.of(1024, 1024);
    FluxMemoryModel eager = new FluxMemoryModel(FluxDims.FLUX_DEV, w, EngineProfile.DJL_EAGER);
    FluxMemoryModel withSdpa = new FluxMemoryModel(FluxDims.FLUX_DEV, w, fused);
    assertEquals(0, withSdpa.attentionScoresBytes(4608, 4608));
    long scores = eager.attentionScoresBytes(eager.tokens(), eager.tokens());
    long saved = eager.doubleBlockActivationBytes(0) - withSdpa.doubleBlockActivationBytes(0);
    assertTrue(saved > 0 && saved <= scores, saved + " of " + scores);
  }

  @Test
  void fusedAttentionNeverChunksAndNeedsNoMoreThanEager() {
    for (long budget : new long[] {8 * GIB, 12 * GIB, 16 * GIB}) {
      PlanDecision eager =
          Planner.plan(
              FluxDims.FLUX_DEV,
              Workload.of(1024, 1024),
              budget,
              Hardware.DEFAULT,
              EngineProfile.DJL_EAGER);
      PlanDecision fused =
          Planner.plan(
              FluxDims.FLUX_DEV,
              Workload.of(1024, 1024),
              budget,
              Hardware.DEFAULT,
              EngineProfile.DJL_FUSED);
      assertTrue(fused.fits(), fused.reason());
      assertEquals(0, fused.chosen().attentionChunk());
      assertTrue(fused.neededBytes() <= eager.neededBytes());
      assertTrue(
          fused.chosen().streamedBytesPerStep() <= eager.chosen().streamedBytesPerStep(),
          fused.reason() + " / " + eager.reason());
    }
  }
}
