package dev.fleet.engine.flux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.model.memory.DitDims;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FluxParamsTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");

  @Test
  void infersFlux1DevFromShapes() {
    FluxParams p = FluxParams.infer(ShapeOnlyStore.flux1(true), null);
    assertEquals(
        new FluxParams(
            new DitDims(64, 64, 768, 4096, 3072, 4.0, 24, 19, 38, true, true),
            List.of(16, 56, 56),
            10_000),
        p);
    assertEquals(128, p.dims().headDim());
    assertEquals(12288, p.dims().mlpHiddenDim());
  }

  @Test
  void schnellHasNoGuidanceEmbedding() {
    assertFalse(FluxParams.infer(ShapeOnlyStore.flux1(false), null).dims().guidanceEmbed());
  }

  @Test
  void configJsonTakesPrecedence() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      FluxParams p = FluxParams.infer(store, TRANSFORMER.resolve("config.json"));
      assertEquals(
          new FluxParams(
              new DitDims(64, 64, 32, 64, 64, 4.0, 2, 2, 2, true, true),
              List.of(8, 12, 12),
              10_000),
          p);
    }
  }

  @Test
  void shapesOfTheFixtureAgreeWithItsConfigExceptTheRopeSplit() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      FluxParams config = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
      FluxParams inferred = FluxParams.infer(store, TRANSFORMER.resolve("no-such-config.json"));
      assertEquals(List.of(4, 14, 14), inferred.axesDim());
      assertEquals(config.dims(), inferred.dims());
      assertEquals(config.theta(), inferred.theta());
    }
  }

  @Test
  void aGapInTheBlockNumbersIsNamed() {
    ShapeOnlyStore s = new ShapeOnlyStore();
    ShapeOnlyStore full = ShapeOnlyStore.flux1(true);
    for (String n : full.names()) {
      if (!n.startsWith("double_blocks.7.")) {
        s.put(n, full.entry(n).shape());
      }
    }
    var e = assertThrows(IllegalArgumentException.class, () -> FluxParams.fromShapes(s));
    assertTrue(e.getMessage().contains("double_blocks.7 is missing"), e.getMessage());
  }

  @Test
  void invalidValuesAreNamed() {
    var heads =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new FluxParams(
                    new DitDims(64, 64, 32, 64, 64, 4.0, 3, 1, 1, true, true),
                    List.of(8, 12, 12),
                    10_000));
    assertTrue(heads.getMessage().contains("hidden_size 64 must be divisible by num_heads 3"));
    var axes =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new FluxParams(
                    new DitDims(64, 64, 32, 64, 64, 4.0, 2, 1, 1, true, true),
                    List.of(8, 12, 10),
                    10_000));
    assertTrue(axes.getMessage().contains("[8, 12, 10] sums to 30"), axes.getMessage());
    assertTrue(axes.getMessage().contains("is 32"), axes.getMessage());
    var odd =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new FluxParams(
                    new DitDims(64, 64, 32, 64, 64, 4.0, 2, 1, 1, true, true),
                    List.of(7, 13, 12),
                    10_000));
    assertTrue(odd.getMessage().contains("even"), odd.getMessage());
  }
}
