package dev.fleet.engine.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextEmbedderTest {

  @Test
  void promptToConditioningMatchesTheReference() throws IOException {
    String prompt = new ObjectMapper().readTree(Fixtures.CASE.toFile()).get("prompt").asText();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TensorStore expected = TensorStore.open(Fixtures.EXPECTED);
        TextEmbedder embedder = TextEmbedder.load(Fixtures.MODEL, 512, ComputeTarget.cpu());
        TextEmbeddings e = embedder.embed(prompt, m)) {
      Weights ref = new Weights(expected, ComputeTarget.cpu());
      assertEquals(32, embedder.t5Length());
      assertEquals(new Shape(1, 32, 64), e.t5().getShape());
      assertEquals(new Shape(1, 32), e.clipPooled().getShape());
      float t5 = ClipTextModelTest.relErr(e.t5(), ref.load("t5.out.last_hidden_state", m));
      float clip = ClipTextModelTest.relErr(e.clipPooled(), ref.load("clip.out.pooler_output", m));
      assertTrue(t5 <= 1e-4, "t5 rel err " + t5);
      assertTrue(clip <= 1e-4, "clip rel err " + clip);
    }
  }

  @Test
  void aModelDirectoryWithoutTokenizersIsNamed(@TempDir Path tmp) {
    var e =
        assertThrows(
            IllegalArgumentException.class, () -> TextEmbedder.load(tmp, 512, ComputeTarget.cpu()));
    assertTrue(e.getMessage().contains(tmp.resolve("tokenizer").toString()), e.getMessage());
  }
}
