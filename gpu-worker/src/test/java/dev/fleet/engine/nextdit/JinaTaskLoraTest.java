package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jina-clip-v2's raw checkpoint layout: every linear and embedding weight of the text tower kept as
 * the pre-trained matrix plus per-task LoRA factors. The test makes such a checkpoint from the
 * fixture's merged tower (original = merged − scaling · product, with random factors for two
 * tasks), and the tower loaded from it must give the fixture's reference outputs again.
 */
class JinaTaskLoraTest {
  private static final Path DIR = NewbieFixture.DIR.resolve("clip_model");
  private static final String PREFIX = "text_model.transformer.roberta.";
  private static final Pattern LINEAR =
      Pattern.compile(
          ".*encoder\\.layers\\.\\d+\\.(mixer\\.(Wqkv|out_proj)|mlp\\.fc[12])\\.weight");
  private static final Pattern EMBEDDING =
      Pattern.compile(".*embeddings\\.(word|token_type)_embeddings\\.weight");
  private static final int TASKS = 2;
  private static final int RANK = 2;
  private static final float ALPHA = 3f;
  private static final int QUERY = 1; // "retrieval.query", second in lora_adaptations

  @Test
  void aTowerStoredWithTaskFactorsIsMergedAtLoadAndMatchesTheReference(@TempDir Path dir)
      throws IOException {
    int parametrized = writeRawCheckpoint(dir, true);
    assertTrue(parametrized >= 2 + 4 * 2, "factors written for " + parametrized + " weights");
    JinaTextConfig config = JinaTextConfig.read(dir);
    assertEquals(new JinaTaskLora("retrieval.query", QUERY, RANK, ALPHA), config.taskLora());
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        JinaTextTower model = JinaTextTower.load(dir, ComputeTarget.cpu());
        NDManager m = NDManager.newBaseManager(Device.cpu());
        JinaTextTower.Output out =
            model.forward(
                NewbieFixture.load(expected, "jina.in.ids", m),
                NewbieFixture.load(expected, "jina.in.mask", m))) {
      double pooled = NewbieFixture.relErr(expected, "jina.out.pooled", out.pooled());
      double seq =
          NewbieFixture.relErr(expected, "jina.out.last_hidden_state", out.lastHiddenState());
      System.out.printf("jina merged at load: pooled rel L2 %.3e, sequence %.3e%n", pooled, seq);
      assertTrue(pooled <= 1e-4, "pooled rel L2 " + pooled);
      assertTrue(seq <= 1e-4, "last_hidden_state rel L2 " + seq);
    }
  }

  @Test
  void factorsWithoutADeclaredTaskAreRefusedNamingTheWeight(@TempDir Path dir) throws IOException {
    writeRawCheckpoint(dir, false);
    assertNull(JinaTextConfig.read(dir).taskLora());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> JinaTextTower.load(dir, ComputeTarget.cpu()));
    assertTrue(e.getMessage().contains("is a LoRA parametrization"), e.getMessage());
    assertTrue(e.getMessage().contains("lora_adaptations"), e.getMessage());
  }

  @Test
  void aDefaultTaskThatIsNoAdaptationIsRefused(@TempDir Path dir) throws IOException {
    ObjectNode config = fixtureConfig();
    ((ObjectNode) config.get("text_config")).put("default_lora_task", "classification");
    kwargs(config).putArray("lora_adaptations").add("retrieval.passage").add("retrieval.query");
    Files.writeString(dir.resolve("config.json"), config.toPrettyString());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> JinaTextConfig.read(dir));
    assertTrue(e.getMessage().contains("'classification' is not one of"), e.getMessage());
  }

  /**
   * The fixture's tower with each linear and embedding weight W replaced by W − (alpha/rank) · Δ
   * for random factors whose task-{@value #QUERY} product is Δ, and the config naming the tasks
   * when {@code declare}; returns how many weights were parametrized.
   */
  private static int writeRawCheckpoint(Path dir, boolean declare) throws IOException {
    Random random = new Random(7);
    float scaling = ALPHA / RANK;
    SafetensorsWriter out = new SafetensorsWriter();
    int parametrized = 0;
    try (TensorStore store = TensorStore.open(DIR.resolve("model.safetensors"))) {
      for (String name : store.names()) {
        TensorEntry e = store.entry(name);
        assertEquals(DType.F32, e.dtype(), name);
        float[] w = floats(store, name);
        boolean linear = LINEAR.matcher(name).matches();
        boolean embedding = EMBEDDING.matcher(name).matches();
        if (!name.startsWith(PREFIX) || !(linear || embedding)) {
          out.addFloats(name, e.shape(), w);
          continue;
        }
        int rows = (int) e.shape()[0];
        int cols = (int) e.shape()[1];
        // Linear: A (tasks, r, cols), B (tasks, rows, r), Δ = B·A. Embedding: A (tasks, rows, r),
        // B (tasks, r, cols), Δ = A·B. Either way Δ[i][j] = Σ_k left[i][k] · right[k][j].
        float[] a = gaussian(random, TASKS * RANK * (linear ? cols : rows));
        float[] b = gaussian(random, TASKS * RANK * (linear ? rows : cols));
        float[] original = w.clone();
        for (int i = 0; i < rows; i++) {
          for (int j = 0; j < cols; j++) {
            double d = 0;
            for (int k = 0; k < RANK; k++) {
              d +=
                  linear
                      ? b[(QUERY * rows + i) * RANK + k] * a[(QUERY * RANK + k) * cols + j]
                      : a[(QUERY * rows + i) * RANK + k] * b[(QUERY * RANK + k) * cols + j];
            }
            original[i * cols + j] -= (float) (scaling * d);
          }
        }
        String stem = name.substring(0, name.length() - ".weight".length());
        out.addFloats(stem + JinaTaskLora.ORIGINAL, e.shape(), original);
        out.addFloats(
            stem + JinaTaskLora.LORA_A,
            linear ? new long[] {TASKS, RANK, cols} : new long[] {TASKS, rows, RANK},
            a);
        out.addFloats(
            stem + JinaTaskLora.LORA_B,
            linear ? new long[] {TASKS, rows, RANK} : new long[] {TASKS, RANK, cols},
            b);
        parametrized++;
      }
    }
    out.write(dir.resolve("model.safetensors"));
    ObjectNode config = fixtureConfig();
    if (declare) {
      kwargs(config).putArray("lora_adaptations").add("retrieval.passage").add("retrieval.query");
      kwargs(config).put("lora_rank", RANK).put("lora_alpha", ALPHA);
    }
    Files.writeString(dir.resolve("config.json"), config.toPrettyString());
    return parametrized;
  }

  private static ObjectNode fixtureConfig() throws IOException {
    return (ObjectNode) new ObjectMapper().readTree(DIR.resolve("config.json").toFile());
  }

  private static ObjectNode kwargs(ObjectNode config) {
    return (ObjectNode) config.get("text_config").get("hf_model_config_kwargs");
  }

  private static float[] floats(TensorStore store, String name) {
    FloatBuffer f = store.bytes(name).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] out = new float[f.remaining()];
    f.get(out);
    return out;
  }

  private static float[] gaussian(Random random, int n) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (0.05 * random.nextGaussian());
    }
    return out;
  }
}
