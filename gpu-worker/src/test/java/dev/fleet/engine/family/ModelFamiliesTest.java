package dev.fleet.engine.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.model.memory.FluxDims;
import dev.fleet.model.memory.NewbieDims;
import dev.fleet.model.memory.StorageType;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which family a model directory or a preset belongs to, and what FLUX's family reads. */
class ModelFamiliesTest {
  static final Path NEWBIE_TINY = Path.of("src/test/resources/fixtures/newbie-tiny");

  @Test
  void theBundledModelIsFlux() {
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, null);
    ModelLocation location = ModelLocation.of(model);
    ModelFamily family = ModelFamilies.of(location);
    assertEquals("flux", family.name());
    assertTrue(family.recognises(location));
    assertFalse(ModelFamilies.NEWBIE.recognises(location));
    assertEquals(ModelDimsReader.read(model), family.dims(location));
    assertEquals(ModelDimsReader.ditStorage(model), family.ditStorage(location));
    assertEquals(ModelDimsReader.storedBlocks(model), family.storedBlocks(location));
  }

  /** The NewBie fixture, read from its configs: the newbie-tiny preset, which it is. */
  @Test
  void theNewbieFixtureIsNewbie() {
    ModelLocation location = ModelLocation.of(NEWBIE_TINY);
    ModelFamily family = ModelFamilies.of(location);
    assertSame(ModelFamilies.NEWBIE, family);
    assertFalse(ModelFamilies.DEFAULT.recognises(location));
    assertEquals(NewbieDims.TINY, family.dims(location));
    assertEquals(StorageType.FP16, family.ditStorage(location));
    // --dit picks another checkpoint of the same directory; a missing one is not recognised.
    assertTrue(family.recognises(new ModelLocation(NEWBIE_TINY, "newbie-bf16.safetensors")));
    assertFalse(family.recognises(new ModelLocation(NEWBIE_TINY, "missing.safetensors")));
  }

  @Test
  void presetsAreFoundThroughTheirFamily() {
    assertEquals(
        List.of("flux-dev", "flux-schnell", "newbie", "newbie-tiny", "shapes", "tiny"),
        ModelFamilies.presetNames());
    assertSame(ModelFamilies.NEWBIE, ModelFamilies.withPreset("newbie").orElseThrow());
    assertEquals(NewbieDims.NEWBIE, ModelFamilies.NEWBIE.preset("newbie").orElseThrow());
    ModelFamily flux = ModelFamilies.withPreset("flux-dev").orElseThrow();
    assertSame(ModelFamilies.DEFAULT, flux);
    assertEquals(FluxDims.FLUX_DEV, flux.preset("flux-dev").orElseThrow());
    assertFalse(ModelFamilies.withPreset("next-dit").isPresent());
  }

  @Test
  void everyFamilyHasADistinctName() {
    List<String> names = ModelFamilies.all().stream().map(ModelFamily::name).toList();
    assertEquals(names.stream().distinct().count(), names.size());
    assertTrue(names.containsAll(List.of("flux", "newbie")));
    assertSame(ModelFamilies.DEFAULT, ModelFamilies.all().get(names.size() - 1));
  }
}
