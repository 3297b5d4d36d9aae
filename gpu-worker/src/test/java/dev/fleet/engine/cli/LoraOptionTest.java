package dev.fleet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code --lora FILE[:STRENGTH]}: the text after the last ':' is the strength when a number. */
class LoraOptionTest {
  @Test
  void strengthAfterTheLastColon() {
    assertEquals(
        new LoraOption(Path.of("a.safetensors"), 0.7), LoraOption.parse("a.safetensors:0.7"));
    assertEquals(
        new LoraOption(Path.of("/x/a.safetensors"), -1.5),
        LoraOption.parse("/x/a.safetensors:-1.5"));
    assertEquals(
        new LoraOption(Path.of("a:b.safetensors"), 2), LoraOption.parse("a:b.safetensors:2"));
  }

  @Test
  void noStrengthMeansOne() {
    assertEquals(new LoraOption(Path.of("a.safetensors"), 1.0), LoraOption.parse("a.safetensors"));
    assertEquals(
        new LoraOption(Path.of("dir:x/a.safetensors"), 1.0),
        LoraOption.parse("dir:x/a.safetensors"));
    assertEquals(
        new LoraOption(Path.of("a.safetensors:"), 1.0), LoraOption.parse("a.safetensors:"));
  }

  @Test
  void nameIsTheFileWithoutItsExtension() {
    assertEquals("style", LoraOption.parse("/loras/style.safetensors:0.5").name());
  }
}
