package dev.fleet.engine.nextdit;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Narrowing;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gemma 3's hidden_states[-2] against transformers' Gemma3TextModel on the fixture. */
class Gemma3TextEncoderTest {
  private static final Path DIR = NewbieFixture.DIR.resolve("text_encoder");

  @Test
  void configReadsLayerTypesAndRope() {
    Gemma3Config c = Gemma3Config.read(DIR);
    assertEquals(5, c.layers());
    assertEquals(List.of(false, true, false, false, true), c.fullAttention());
    assertEquals(1e6, c.fullRopeTheta());
    assertEquals(8.0, c.fullRopeFactor());
    assertEquals(1e4, c.slidingRopeTheta());
    assertEquals(4, c.slidingWindow());
    assertEquals(16, c.headDim());
  }

  /**
   * A config as sparse as google/gemma-3-4b-it's (a multimodal config whose text_config names only
   * the sizes, layers, window and RoPE scaling): the missing fields take transformers'
   * Gemma3TextConfig defaults, which give Gemma-3-4B's 8 query heads, 4 KV heads and head_dim 256.
   */
  @Test
  void aSparseMultimodalConfigTakesTransformersDefaults(@TempDir Path dir) throws IOException {
    Files.writeString(
        dir.resolve("config.json"),
        """
        {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
         "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
           "model_type": "gemma3_text", "num_hidden_layers": 34,
           "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024},
         "vision_config": {"model_type": "siglip_vision_model"}}
        """);
    Gemma3Config c = Gemma3Config.read(dir);
    assertEquals(34, c.layers());
    assertEquals(2560, c.hiddenSize());
    assertEquals(10240, c.intermediateSize());
    assertEquals(8, c.heads());
    assertEquals(4, c.kvHeads());
    assertEquals(256, c.headDim());
    assertEquals(256.0, c.queryPreAttnScalar());
    assertEquals(262_208, c.vocabSize());
    assertEquals(1024, c.slidingWindow());
    assertEquals(8.0, c.fullRopeFactor());
    assertEquals(1e6, c.fullRopeTheta());
    assertEquals(1e4, c.slidingRopeTheta());
    // Every sixth layer attends fully (sliding_window_pattern 6).
    assertEquals(List.of(false, false, false, false, false, true), c.fullAttention().subList(0, 6));
  }

  @Test
  void inverseFrequenciesMatchTheModelsBuffers() {
    Gemma3Config c = Gemma3Config.read(DIR);
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED)) {
      float[] full =
          HalfRope.inverseFrequencies(c.headDim(), c.fullRopeTheta(), c.fullRopeFactor());
      float[] sliding = HalfRope.inverseFrequencies(c.headDim(), c.slidingRopeTheta(), 1);
      double fullErr =
          TensorAssert.relErr(
              floats(expected, "gemma.mid.buffer.rotary_emb.full_attention_inv_freq"), full);
      double slidingErr =
          TensorAssert.relErr(
              floats(expected, "gemma.mid.buffer.rotary_emb.sliding_attention_inv_freq"), sliding);
      assertTrue(fullErr <= 1e-6, "full inv_freq " + fullErr);
      assertTrue(slidingErr <= 1e-6, "sliding inv_freq " + slidingErr);
    }
  }

  @Test
  void hiddenStatesMinusTwoMatchTransformers() {
    assertParity("model.safetensors", "gemma.out.hidden_states_m2");
  }

  /**
   * Streamed layer by layer, Gemma gives what it gives resident, and holds only its embedding on
   * its manager between calls.
   */
  @Test
  void streamedLayerByLayerMatchesTransformersAndHoldsOnlyTheEmbedding() {
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        Gemma3TextEncoder model = Gemma3TextEncoder.stream(DIR, ComputeTarget.cpu());
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Gemma3Config c = model.config();
      assertEquals(
          (long) c.vocabSize() * c.hiddenSize() * 4,
          dev.fleet.engine.memory.DeviceLedger.bytesOf(model.manager()));
      for (int call = 0; call < 2; call++) {
        NDArray out =
            model.encode(
                NewbieFixture.load(expected, "gemma.in.ids", m),
                NewbieFixture.load(expected, "gemma.in.mask", m));
        double err = NewbieFixture.relErr(expected, "gemma.out.hidden_states_m2", out);
        System.out.printf("gemma streamed, call %d: rel L2 %.3e%n", call, err);
        assertTrue(err <= 1e-4, "streamed rel L2 " + err);
        out.close();
      }
      assertEquals(
          (long) c.vocabSize() * c.hiddenSize() * 4,
          dev.fleet.engine.memory.DeviceLedger.bytesOf(model.manager()),
          "a call leaves no layer on the encoder's manager");
    }
  }

  /**
   * Float8 layer matrices (the fixture's float32 narrowed to e4m3fn with a per-tensor scale when
   * loaded, widened per layer), resident or streamed: hidden_states[-2] against transformers'
   * float32 within {@link #FP8_REL_L2}. One e4m3fn rounding is at most 2⁻⁴ = 6.25 % of a weight (3
   * mantissa bits) and about 3.6 % RMS (2⁻⁴/√3, uniform within half a step); a matrix product
   * carries that relative error to its output, and each layer adds its outputs to a residual stream
   * that the error does not touch (the embedding, × √hidden, which stays 16/32-bit), so the hidden
   * state's relative error stays below one rounding's RMS. Measured on the fixture: printed.
   * Resident and streamed layers widen the same bytes, so they agree to float32 rounding; the
   * ledger holds the resident layers' bytes (one per weight plus the norm vectors) between calls.
   */
  @Test
  void float8LayersStayWithinRoundingOfTransformers() {
    Gemma3Config c = Gemma3Config.read(DIR);
    long matrices = 0;
    long vectors = 0;
    try (TensorStore store = TensorStore.open(DIR.resolve("model.safetensors"))) {
      for (String name : store.names()) {
        if (name.startsWith("layers.") && !name.startsWith("layers." + (c.layers() - 1) + ".")) {
          long n = store.entry(name).elements();
          if (store.entry(name).shape().length == 2) {
            matrices += n;
          } else {
            vectors += n;
          }
        }
      }
    }
    float[][] outs = new float[2][];
    for (boolean streamed : new boolean[] {false, true}) {
      DeviceLedger ledger = new DeviceLedger(Long.MAX_VALUE);
      try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
          Gemma3TextEncoder model =
              Gemma3TextEncoder.float8(
                  DIR,
                  ComputeTarget.cpu(),
                  streamed,
                  ledger,
                  HostToDevice.synchronous(),
                  Widener.lookupTable());
          NDManager m = NDManager.newBaseManager(Device.cpu())) {
        long between = streamed ? 0 : matrices + vectors * 4;
        assertEquals(between, ledger.inUseBytes(), "resident layers booked between calls");
        NDArray out =
            model.encode(
                NewbieFixture.load(expected, "gemma.in.ids", m),
                NewbieFixture.load(expected, "gemma.in.mask", m));
        double err = NewbieFixture.relErr(expected, "gemma.out.hidden_states_m2", out);
        System.out.printf(
            "gemma fp8 layers (%s) vs transformers fp32: rel L2 %.3e%n",
            streamed ? "streamed" : "resident", err);
        assertTrue(err <= FP8_REL_L2, "fp8 rel L2 " + err);
        assertTrue(err > 1e-4, "fp8 changed nothing: were the matrices narrowed? " + err);
        assertEquals(between, ledger.inUseBytes(), "a call leaves no layer booked");
        outs[streamed ? 1 : 0] = out.toFloatArray();
      }
    }
    double apart = TensorAssert.relErr(outs[0], outs[1]);
    assertTrue(apart <= 1e-6, "resident vs streamed fp8 rel L2 " + apart);
  }

  /**
   * A float8 checkpoint of Gemma (ComfyUI's scaled fp8: each layer matrix in e4m3fn with its {@code
   * .scale_weight}, here the fixture's narrowed as the engine narrows them) is read with its
   * scales: kept as stored by the float8 encoder it gives what narrowing the float32 checkpoint at
   * load gives, and widened at load (the 16-bit path) the same values again.
   */
  @Test
  void aScaledFloat8CheckpointIsReadWithItsScales(@TempDir Path dir) throws IOException {
    Files.copy(DIR.resolve("config.json"), dir.resolve("config.json"));
    try (TensorStore source = TensorStore.open(DIR.resolve("model.safetensors"))) {
      SafetensorsWriter out = new SafetensorsWriter();
      for (String name : new TreeSet<>(source.names())) {
        TensorEntry e = source.entry(name);
        float[] values = floats(source, name);
        if (name.startsWith("layers.") && e.shape().length == 2) {
          float scale = Narrowing.e4m3fnScale(values);
          for (int i = 0; i < values.length; i++) {
            values[i] /= scale;
          }
          out.add(name, DType.F8_E4M3, e.shape(), Narrowing.encode(values, DType.F8_E4M3));
          String layer = name.substring(0, name.length() - ".weight".length());
          out.add(
              layer + ".scale_weight",
              DType.F32,
              new long[0],
              Narrowing.encode(new float[] {scale}, DType.F32));
        } else {
          out.add(name, DType.F32, e.shape(), Narrowing.encode(values, DType.F32));
        }
      }
      out.write(dir.resolve("model-fp8.safetensors"));
    }
    float[][] outs = new float[3][];
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray ids = NewbieFixture.load(expected, "gemma.in.ids", m);
      NDArray mask = NewbieFixture.load(expected, "gemma.in.mask", m);
      Path[] dirs = {DIR, dir, dir};
      for (int k = 0; k < 3; k++) {
        DeviceLedger ledger = new DeviceLedger(Long.MAX_VALUE);
        try (Gemma3TextEncoder model =
            k < 2
                ? Gemma3TextEncoder.float8(
                    dirs[k],
                    ComputeTarget.cpu(),
                    false,
                    ledger,
                    HostToDevice.synchronous(),
                    Widener.lookupTable())
                : Gemma3TextEncoder.load(dir, ComputeTarget.cpu())) {
          outs[k] = model.encode(ids, mask).toFloatArray();
        }
      }
    }
    double stored = TensorAssert.relErr(outs[0], outs[1]);
    double widened = TensorAssert.relErr(outs[0], outs[2]);
    System.out.printf(
        "gemma scaled fp8 checkpoint: as stored %.3e, widened at load %.3e from narrowed at load%n",
        stored, widened);
    assertTrue(stored <= 1e-6, "fp8 checkpoint as stored vs narrowed at load " + stored);
    assertTrue(widened <= 1e-6, "fp8 checkpoint widened at load vs narrowed at load " + widened);
  }

  /** The bound of {@link #float8LayersStayWithinRoundingOfTransformers}: see there. */
  private static final double FP8_REL_L2 = 0.036 * Math.sqrt(3) * Math.sqrt(4);

  @Test
  void float16AgreesWithFloat32AndStaysFiniteOnPaddedRows() {
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore store = TensorStore.open(DIR.resolve("model.safetensors"));
        Gemma3TextEncoder model =
            Gemma3TextEncoder.load(new Weights(store, half), Gemma3Config.read(DIR));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out =
          model.encode(
              NewbieFixture.load(expected, "gemma.in.ids", m),
              NewbieFixture.load(expected, "gemma.in.mask", m));
      double err = NewbieFixture.relErr(expected, "gemma.out.hidden_states_m2", out);
      System.out.printf("gemma fp16 on CPU: rel L2 %.3e%n", err);
      assertTrue(err <= 2e-2, "fp16 rel L2 " + err);
    }
  }

  @Test
  void multimodalCheckpointPrefixIsFound() {
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore file = TensorStore.open(DIR.resolve("model.safetensors"));
        TensorStore multimodal = new PrefixingStore(file, "language_model.model.");
        Gemma3TextEncoder model =
            Gemma3TextEncoder.load(
                new Weights(multimodal, ComputeTarget.cpu()), Gemma3Config.read(DIR));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out =
          model.encode(
              NewbieFixture.load(expected, "gemma.in.ids", m),
              NewbieFixture.load(expected, "gemma.in.mask", m));
      double err = NewbieFixture.relErr(expected, "gemma.out.hidden_states_m2", out);
      assertTrue(err <= 1e-4, "prefixed checkpoint rel L2 " + err);
    }
  }

  @Test
  void bf16CheckpointWidenedInJavaMatchesReference() {
    assertParity("model-bf16.safetensors", "gemma.out.hidden_states_m2.bf16");
  }

  @Test
  void everyIntermediateHiddenStateMatches() {
    Gemma3Config c = Gemma3Config.read(DIR);
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore store = TensorStore.open(DIR.resolve("model.safetensors"));
        Gemma3TextEncoder model =
            Gemma3TextEncoder.load(new Weights(store, ComputeTarget.cpu()), c);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      model.manager().cap();
      NDArray ids = NewbieFixture.load(expected, "gemma.in.ids", m);
      NDArray mask = NewbieFixture.load(expected, "gemma.in.mask", m);
      for (int n = 0; n < c.layers(); n++) {
        NDArray h = model.hiddenState(ids, mask, n);
        double err = NewbieFixture.relErr(expected, "gemma.mid.hidden_states." + n, h);
        System.out.printf("gemma hidden_states[%d]: rel L2 %.3e%n", n, err);
        assertTrue(err <= 1e-4, "hidden_states." + n + " rel L2 " + err);
        assertEquals(m, h.getManager());
      }
    }
  }

  @Test
  void tokenizerReproducesTheFixturesIds() {
    var c = NewbieFixture.caseJson();
    NewbieRequest r =
        new NewbieRequest(
            c.get("prompt").asText(),
            c.get("negative_prompt").asText(),
            c.get("system_prompt").asText(),
            1,
            64,
            64,
            1,
            1f,
            1f,
            0f,
            6f);
    try (NewbieTokenizer tok = NewbieTokenizer.gemma(NewbieFixture.DIR.resolve("tokenizer"))) {
      TokenBatch b = tok.encode(List.of(r.gemmaTexts()));
      assertEquals(0, b.length() % 8);
      for (int i = 0; i < 2; i++) {
        assertArrayEquals(longs(c.get("gemma_ids").get(i)), b.ids()[i], "gemma ids row " + i);
        assertArrayEquals(longs(c.get("gemma_mask").get(i)), b.mask()[i], "gemma mask row " + i);
      }
      assertEquals(0, tok.padId());
    }
  }

  private static long[] longs(com.fasterxml.jackson.databind.JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }

  private void assertParity(String file, String want) {
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore store = TensorStore.open(DIR.resolve(file));
        Gemma3TextEncoder model =
            Gemma3TextEncoder.load(
                new Weights(store, ComputeTarget.cpu()), Gemma3Config.read(DIR));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out =
          model.encode(
              NewbieFixture.load(expected, "gemma.in.ids", m),
              NewbieFixture.load(expected, "gemma.in.mask", m));
      assertEquals(new Shape(2, 72, 48), out.getShape());
      double err = NewbieFixture.relErr(expected, want, out);
      System.out.printf("gemma %s vs %s: rel L2 %.3e%n", file, want, err);
      assertTrue(err <= 1e-4, file + " rel L2 " + err);
    }
  }
}
