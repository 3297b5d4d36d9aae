package dev.fleet.model.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelNamesTest {
  @Test
  void registryNamesAsTheyAreUsedAreTopicSafe() {
    for (String name : new String[] {"flux-shapes", "flux-tiny", "newbie", "majicflus_v1", "x"}) {
      assertTrue(ModelNames.valid(name), name);
    }
  }

  @Test
  void aDotSlashSpaceOrEmptyNameIsRefusedWithTheReason() {
    for (String name : new String[] {"", "flux.dev", "a/b", "two words", "ü", "a".repeat(201)}) {
      assertFalse(ModelNames.valid(name), name);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> ModelNames.requireTopicSafe(name));
      assertTrue(e.getMessage().contains("letters, digits, '-' or '_'"), e.getMessage());
    }
    assertFalse(ModelNames.valid(null));
  }

  @Test
  void aJobsTopicIsItsClassAndItsModel() {
    assertEquals("vram-8g.flux-shapes", MemoryClass.VRAM_8G.topic("flux-shapes"));
    assertEquals("vram-16g.newbie", MemoryClass.VRAM_16G.topic("newbie"));
    assertThrows(IllegalArgumentException.class, () -> MemoryClass.VRAM_8G.topic("a.b"));
  }
}
