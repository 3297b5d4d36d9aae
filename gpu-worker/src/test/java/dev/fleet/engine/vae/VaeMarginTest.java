package dev.fleet.engine.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.memory.PlanMapping;
import dev.fleet.engine.synthetic.ModelShape;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The plan mapping converts the planner's decode tiles with FLUX.1's tile margin and downscale;
 * this pins those constants to what the tiled decoder computes for the autoencoders it runs.
 */
class VaeMarginTest {

  @Test
  void planMappingUsesTheTiledDecodersCoarsestMargin() {
    for (AutoEncoderParams p : List.of(ModelShape.FLUX_DEV.vae(), ModelShape.TINY.vae())) {
      int[] margins = TiledDecoder.margins(p);
      int top = p.dims().levels() - 1;
      assertEquals(PlanMapping.DECODE_DOWNSCALE, p.dims().downscale());
      assertTrue(margins[top] <= PlanMapping.DECODE_MARGIN, "margin " + margins[top]);
      // In image pixels the coarsest level's margin is the widest: the mapping's premise.
      for (int level = 0; level < top; level++) {
        assertTrue(margins[level] << level <= margins[top] << top, "level " + level);
      }
    }
    assertEquals(
        PlanMapping.DECODE_MARGIN,
        TiledDecoder.margins(ModelShape.FLUX_DEV.vae())[
            ModelShape.FLUX_DEV.vae().dims().levels() - 1]);
  }
}
