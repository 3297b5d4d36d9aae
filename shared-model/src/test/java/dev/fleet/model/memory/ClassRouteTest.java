package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.job.MemoryClass;
import org.junit.jupiter.api.Test;

class ClassRouteTest {
  private static ClassRoute route(FluxDims m, Workload w) {
    return ClassRoute.of(m, w, Hardware.DEFAULT);
  }

  @Test
  void theSmallestClassWhosePlanFits() {
    var tiny =
        assertInstanceOf(ClassRoute.Fits.class, route(FluxDims.TINY, Workload.of(1024, 1024)));
    assertEquals(MemoryClass.VRAM_8G, tiny.memoryClass());
    var flux =
        assertInstanceOf(ClassRoute.Fits.class, route(FluxDims.FLUX_DEV, Workload.of(1024, 1024)));
    assertEquals(MemoryClass.VRAM_8G, flux.memoryClass());
    assertEquals(flux.decision().chosen(), flux.plan());
    // 2048² needs more than 8 GiB even fully streamed: a larger class.
    var large =
        assertInstanceOf(ClassRoute.Fits.class, route(FluxDims.FLUX_DEV, Workload.of(2048, 2048)));
    assertTrue(large.memoryClass().budgetBytes() > MemoryClass.VRAM_8G.budgetBytes());
  }

  @Test
  void tooLargeForEveryClassNamesNeededAndLargest() {
    Workload huge = Workload.of(16384, 16384);
    var refused = assertInstanceOf(ClassRoute.TooLarge.class, route(FluxDims.FLUX_DEV, huge));
    assertEquals(MemoryClass.VRAM_16G, refused.largest());
    assertTrue(refused.neededBytes() > MemoryClass.VRAM_16G.budgetBytes());
    String why = refused.explain(huge);
    assertTrue(
        why.startsWith("16384x16384 needs " + ByteSize.gib(refused.neededBytes()) + " of GPU"),
        why);
    assertTrue(why.contains("the largest class vram-16g has 16.0 GiB"), why);

    Workload batch = new Workload(1024, 1024, 64, StorageType.FP8);
    var many = assertInstanceOf(ClassRoute.TooLarge.class, route(FluxDims.FLUX_DEV, batch));
    assertTrue(
        many.explain(batch).startsWith("64 images of 1024x1024 needs "), many.explain(batch));
  }
}
