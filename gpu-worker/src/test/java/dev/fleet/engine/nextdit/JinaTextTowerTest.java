package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.engine.safetensors.PrefixedStore;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Jina CLIP v2 text tower against ComfyUI's port on the fixture. */
class JinaTextTowerTest {
  private static final Path DIR = NewbieFixture.DIR.resolve("clip_model");

  @Test
  void configComesFromTheTextConfig() {
    JinaTextConfig c = JinaTextConfig.read(DIR);
    assertEquals(32, c.hiddenSize());
    assertEquals(2, c.layers());
    assertEquals(2, c.heads());
    assertEquals(64, c.intermediateSize());
    assertEquals(20000.0, c.rotaryBase());
  }

  @Test
  void meanPooledOutputAndSequenceMatchReference() {
    assertParity("model.safetensors", "jina.out.pooled", true);
  }

  @Test
  void bf16CheckpointWidenedInJavaMatchesReference() {
    assertParity("model-bf16.safetensors", "jina.out.pooled.bf16", false);
  }

  @Test
  void bareTowerWithoutTheClipPrefixLoadsToo() {
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore file = TensorStore.open(DIR.resolve("model.safetensors"));
        TensorStore bare = new PrefixedStore(file, "text_model.transformer.roberta.", false);
        JinaTextTower model =
            JinaTextTower.load(new Weights(bare, ComputeTarget.cpu()), JinaTextConfig.read(DIR));
        NDManager m = NDManager.newBaseManager(Device.cpu());
        JinaTextTower.Output out =
            model.forward(
                NewbieFixture.load(expected, "jina.in.ids", m),
                NewbieFixture.load(expected, "jina.in.mask", m))) {
      double err = NewbieFixture.relErr(expected, "jina.out.pooled", out.pooled());
      assertTrue(err <= 1e-4, "bare tower rel L2 " + err);
    }
  }

  /**
   * jina-clip-v2's own config.json names no tower sizes (its {@code hf_model_config_kwargs} holds
   * the LoRA settings; the sizes are jina-embeddings-v3's, another repository's): they are read
   * from the checkpoint's shapes, the head count given or jina-embeddings-v3's 16, and the tower
   * computes the reference's pooled vector.
   */
  @Test
  void aConfigWithoutSizesTakesThemFromTheCheckpoint(@TempDir Path dir) throws IOException {
    Files.copy(DIR.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    String config =
        """
        {"architectures": ["JinaCLIPModel"], "model_type": "jina_clip",
         "text_config": {"default_lora_task": "retrieval.query", "embed_dim": 32,
           "hf_model_name_or_path": "jinaai/jina-embeddings-v3",
           "hf_model_config_kwargs": {"use_flash_attn": true%s}}}
        """;
    Files.writeString(dir.resolve("config.json"), config.formatted(""));
    assertEquals(16, JinaTextConfig.read(dir).heads());
    Files.writeString(dir.resolve("config.json"), config.formatted(", \"num_attention_heads\": 2"));
    JinaTextConfig c = JinaTextConfig.read(dir);
    assertEquals(JinaTextConfig.read(DIR), c);
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        JinaTextTower model = JinaTextTower.load(dir, ComputeTarget.cpu());
        NDManager m = NDManager.newBaseManager(Device.cpu());
        JinaTextTower.Output out =
            model.forward(
                NewbieFixture.load(expected, "jina.in.ids", m),
                NewbieFixture.load(expected, "jina.in.mask", m))) {
      double err = NewbieFixture.relErr(expected, "jina.out.pooled", out.pooled());
      assertTrue(err <= 1e-4, "sizes from shapes: pooled rel L2 " + err);
    }
  }

  @Test
  void tokenizerReproducesTheFixturesIds() {
    JsonNode c = NewbieFixture.caseJson();
    try (NewbieTokenizer tok = NewbieTokenizer.jina(NewbieFixture.DIR.resolve("clip_tokenizer"))) {
      TokenBatch b =
          tok.encode(List.of(c.get("prompt").asText(), c.get("negative_prompt").asText()));
      for (int i = 0; i < 2; i++) {
        assertArrayEquals(longs(c.get("jina_ids").get(i)), b.ids()[i], "jina ids row " + i);
        assertArrayEquals(longs(c.get("jina_mask").get(i)), b.mask()[i], "jina mask row " + i);
      }
      assertEquals(1, tok.padId());
    }
  }

  private static long[] longs(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }

  private void assertParity(String file, String wantPooled, boolean sequence) {
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore store = TensorStore.open(DIR.resolve(file));
        JinaTextTower model =
            JinaTextTower.load(new Weights(store, ComputeTarget.cpu()), JinaTextConfig.read(DIR));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      model.manager().cap();
      try (JinaTextTower.Output out =
          model.forward(
              NewbieFixture.load(expected, "jina.in.ids", m),
              NewbieFixture.load(expected, "jina.in.mask", m))) {
        assertEquals(new Shape(2, 32), out.pooled().getShape());
        double err = NewbieFixture.relErr(expected, wantPooled, out.pooled());
        System.out.printf("jina %s vs %s: rel L2 %.3e%n", file, wantPooled, err);
        assertTrue(err <= 1e-4, wantPooled + " rel L2 " + err);
        if (sequence) {
          double seq =
              NewbieFixture.relErr(expected, "jina.out.last_hidden_state", out.lastHiddenState());
          System.out.printf("jina last_hidden_state: rel L2 %.3e%n", seq);
          assertTrue(seq <= 1e-4, "last_hidden_state rel L2 " + seq);
        }
      }
    }
  }
}
