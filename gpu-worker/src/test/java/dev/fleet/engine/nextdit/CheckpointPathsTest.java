package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which checkpoint file of a component directory is opened. */
class CheckpointPathsTest {

  @Test
  void theFixturesFullPrecisionFilesArePickedOverTheirBf16Copies() {
    assertEquals(
        NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"),
        CheckpointPaths.in(NewbieFixture.TRANSFORMER));
    assertEquals(
        NewbieFixture.DIR.resolve("text_encoder/model.safetensors"),
        CheckpointPaths.in(NewbieFixture.DIR.resolve("text_encoder")));
  }

  @Test
  void shardsLeaveTheChoiceToTheIndex(@TempDir Path dir) throws IOException {
    Files.createFile(dir.resolve("model-00001-of-00002.safetensors"));
    Files.createFile(dir.resolve("model-00002-of-00002.safetensors"));
    Files.createFile(dir.resolve("model.safetensors.index.json"));
    assertEquals(dir, CheckpointPaths.in(dir));
  }

  @Test
  void aSingleFileIsTakenWhateverItsName(@TempDir Path dir) throws IOException {
    Files.createFile(dir.resolve("newbie-bf16.safetensors"));
    assertEquals(dir.resolve("newbie-bf16.safetensors"), CheckpointPaths.in(dir));
    assertThrows(IllegalArgumentException.class, () -> CheckpointPaths.in(dir.resolve("missing")));
  }
}
