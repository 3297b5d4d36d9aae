package dev.fleet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationSpecTest {

  private static GenerationSpec spec(String prompt, long seed, int steps, int w, int h, double g) {
    return new GenerationSpec(prompt, seed, steps, w, h, g, "flux-tiny");
  }

  @Test
  void acceptsTheFixtureCase() {
    GenerationSpec s = spec("a red fox", 1234, 4, 128, 96, 3.5);
    assertEquals(48, s.imageTokens());
    assertTrue(s.parametersText().startsWith("a red fox\nSteps: 4, "));
    assertTrue(s.parametersText().contains("Seed: 1234, Size: 128x96, Model: flux-tiny"));
  }

  @Test
  void sizesThatAreNotMultiplesOf16AreRefusedWithTheNearestSize() {
    var e = assertThrows(InvalidSpecException.class, () -> spec("x", 1, 4, 100, 96, 3.5));
    assertEquals(
        List.of(new FieldError("width", "must be a multiple of 16, got 100 (nearest: 96)")),
        e.errors());
    var h = assertThrows(InvalidSpecException.class, () -> spec("x", 1, 4, 128, 120, 3.5));
    assertEquals("height", h.errors().get(0).field());
    assertTrue(h.getMessage().contains("nearest: 128"), h.getMessage());
  }

  @Test
  void everyBrokenFieldIsNamed() {
    var e =
        assertThrows(
            InvalidSpecException.class,
            () -> new GenerationSpec(" ", -2, 0, 8, 100000, Double.NaN, ""));
    List<String> fields = e.errors().stream().map(FieldError::field).toList();
    assertEquals(
        List.of("prompt", "seed", "steps", "width", "height", "guidance", "model"), fields);
  }

  @Test
  void boundsAreEnforced() {
    assertThrows(InvalidSpecException.class, () -> spec("x".repeat(50_000), 1, 4, 64, 64, 3.5));
    assertThrows(InvalidSpecException.class, () -> spec("x", 1, 10000, 64, 64, 3.5));
    assertThrows(InvalidSpecException.class, () -> spec("x", 1L << 32, 4, 64, 64, 3.5));
    assertThrows(InvalidSpecException.class, () -> spec("x", 1, 4, 16384, 16384, 3.5));
    spec("x", GenerationSpec.MAX_SEED, GenerationSpec.MAX_STEPS, 4096, 16, 0);
  }

  @Test
  void guidanceFieldsOfAModelWithAnUnconditionalPassAreChecked() {
    GenerationSpec plain = spec("x", 1, 4, 64, 64, 5);
    assertEquals("", plain.negativePrompt());
    assertEquals(null, plain.cfgTruncation());
    var e =
        assertThrows(
            InvalidSpecException.class,
            () -> new GenerationSpec("x", 1, 4, 64, 64, 5, "newbie", List.of(), "bad\0", 1.5));
    assertEquals(
        List.of("negativePrompt", "cfgTruncation"),
        e.errors().stream().map(FieldError::field).toList());
    GenerationSpec ok =
        new GenerationSpec("x", 1, 4, 64, 64, 5, "newbie", List.of(), "blurry", 0.25);
    assertEquals("blurry", ok.negativePrompt());
    assertEquals(0.25, ok.cfgTruncation());
  }
}
