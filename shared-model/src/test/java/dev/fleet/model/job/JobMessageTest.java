package dev.fleet.model.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.InvalidSpecException;
import dev.fleet.model.LoraRef;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class JobMessageTest {
  private static final UUID ID = UUID.fromString("0b8f7d1e-6f3a-4a57-9a43-3f0c1b2d4e5f");

  @Test
  void jsonNamesTheComponentsAndEscapesThePrompt() {
    GenerationSpec spec =
        new GenerationSpec("a \"red\" fox\n\\ \u0001", 1234, 4, 128, 96, 3.5, "flux-tiny");
    JobMessage m = JobMessage.of(ID, "acme", spec, MemoryClass.VRAM_8G, 2);
    assertEquals(
        "{\"jobId\":\"0b8f7d1e-6f3a-4a57-9a43-3f0c1b2d4e5f\",\"tenant\":\"acme\","
            + "\"prompt\":\"a \\\"red\\\" fox\\n\\\\ \\u0001\",\"seed\":1234,\"steps\":4,"
            + "\"width\":128,\"height\":96,\"guidance\":3.5,\"model\":\"flux-tiny\","
            + "\"memoryClass\":\"vram-8g\",\"attempt\":2}",
        m.toJson());
    assertEquals(spec, m.spec());
  }

  @Test
  void aTamperedMessageDoesNotYieldASpec() {
    JobMessage m = new JobMessage(ID, "t", "x", 1, 0, 64, 64, 3.5, "flux-tiny", "vram-8g", 1);
    assertThrows(InvalidSpecException.class, m::spec);
    assertThrows(
        IllegalArgumentException.class,
        () -> new JobMessage(ID, "t", "x", 1, 4, 64, 64, 3.5, "flux-tiny", "vram-8g", 0));
  }

  @Test
  void lorasTravelInTheMessageAndBackIntoTheSpec() {
    GenerationSpec spec =
        new GenerationSpec(
            "a fox",
            1,
            4,
            64,
            64,
            3.5,
            "flux-tiny",
            List.of(new LoraRef("style", 0.7), new LoraRef("detail v2", -1)));
    JobMessage m = JobMessage.of(ID, "acme", spec, MemoryClass.VRAM_8G, 1);
    String json = m.toJson();
    assertEquals(
        true,
        json.endsWith(
            ",\"attempt\":1,\"loras\":[{\"name\":\"style\",\"strength\":0.7},"
                + "{\"name\":\"detail v2\",\"strength\":-1.0}]}"),
        json);
    assertEquals(spec, m.spec());
    assertEquals(spec.loras(), LoraRef.fromJson(LoraRef.toJson(spec.loras())));
  }

  @Test
  void guidanceFieldsTravelInTheMessageAndBackIntoTheSpec() {
    GenerationSpec spec =
        new GenerationSpec(
            "<character_1>a girl</character_1>",
            1,
            28,
            1024,
            1024,
            5.0,
            "newbie",
            List.of(),
            "low \"quality\"",
            0.25);
    JobMessage m = JobMessage.of(ID, "acme", spec, MemoryClass.VRAM_8G, 1);
    String json = m.toJson();
    assertEquals(
        true,
        json.endsWith(
            ",\"attempt\":1,\"negativePrompt\":\"low \\\"quality\\\"\",\"cfgTruncation\":0.25}"),
        json);
    assertEquals(spec, m.spec());
    // A message from before these fields: none, and the model's default.
    JobMessage old =
        new JobMessage(ID, "acme", "a fox", 1, 4, 64, 64, 3.5, "flux-tiny", "vram-8g", 1);
    assertEquals("", old.negativePrompt());
    assertEquals(null, old.cfgTruncation());
    assertEquals("", old.spec().negativePrompt());
  }

  @Test
  void loraNamesAreFileStems() {
    for (String bad : new String[] {"../x", "a/b", "a\\b", "..", ".hidden", "a:b", ""}) {
      assertThrows(
          InvalidSpecException.class,
          () -> new GenerationSpec("p", 1, 4, 64, 64, 3.5, "m", List.of(new LoraRef(bad, 1))),
          bad);
    }
  }
}
