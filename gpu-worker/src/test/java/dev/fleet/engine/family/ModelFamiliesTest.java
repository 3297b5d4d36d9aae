package dev.fleet.engine.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.model.memory.FluxDims;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which family a model directory or a preset belongs to, and what FLUX's family reads. */
class ModelFamiliesTest {
  @Test
  void theBundledModelIsFlux() {
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, null);
    ModelFamily family = ModelFamilies.of(model);
    assertEquals("flux", family.name());
    assertTrue(family.recognises(model));
    assertEquals(ModelDimsReader.read(model), family.dims(model));
    assertEquals(ModelDimsReader.ditStorage(model), family.ditStorage(model));
    assertEquals(ModelDimsReader.storedBlocks(model), family.storedBlocks(model));
  }

  @Test
  void presetsAreFoundThroughTheirFamily() {
    assertEquals(
        List.of("flux-dev", "flux-schnell", "shapes", "tiny"), ModelFamilies.presetNames());
    ModelFamily flux = ModelFamilies.withPreset("flux-dev").orElseThrow();
    assertSame(ModelFamilies.DEFAULT, flux);
    assertEquals(FluxDims.FLUX_DEV, flux.preset("flux-dev").orElseThrow());
    assertFalse(ModelFamilies.withPreset("next-dit").isPresent());
  }

  @Test
  void everyFamilyHasADistinctName() {
    List<String> names = ModelFamilies.all().stream().map(ModelFamily::name).toList();
    assertEquals(names.stream().distinct().count(), names.size());
    assertTrue(names.contains("flux"));
  }
}
