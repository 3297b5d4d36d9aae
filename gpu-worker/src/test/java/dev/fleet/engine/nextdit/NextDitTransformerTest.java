package dev.fleet.engine.nextdit;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.memory.NextDitDims;
import dev.fleet.model.memory.StorageType;
import dev.fleet.testing.TensorAssert;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Next-DiT against NewBie's own model.py on the newbie-tiny fixture. */
class NextDitTransformerTest {
  private static TensorStore expected;
  private static NextDitParams params;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(NewbieFixture.EXPECTED);
    params = NextDitParams.read(NewbieFixture.TRANSFORMER);
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void paramsComeFromTheConfig() {
    assertEquals(32, params.dim());
    assertEquals(8, params.headDim());
    assertEquals(2, params.nKvHeads());
    assertEquals(128, params.ffnDim());
    assertEquals(32, params.adalnDim());
    assertEquals(64, params.patchDim());
    assertEquals(List.of(2, 2, 4), params.axesDims());
    assertEquals(1e-5f, params.normEps());
  }

  @Test
  void float32MatchesNewbieModel() {
    assertParity("newbie.safetensors", "dit.out");
  }

  @Test
  void bf16CheckpointWidenedInJavaMatchesReference() {
    assertParity("newbie-bf16.safetensors", "dit.out.bf16");
  }

  @Test
  void float16AgreesWithFloat32() {
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model = NextDitTransformer.load(new Weights(store, half), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m);
      double err = NewbieFixture.relErr(expected, "dit.out", out);
      System.out.printf("next-dit fp16 on CPU vs dit.out: rel L2 %.3e%n", err);
      assertEquals(DataType.FLOAT32, out.getDataType());
      assertTrue(err <= 2e-2, "fp16 rel L2 " + err);
    }
  }

  /**
   * The blocks placed by a memory plan — the first k of the four streamable blocks (two noise
   * refiner, two joint) resident, the rest streamed from host memory per call — compute what the
   * wholly resident model does: the same float32 weights, the same operations.
   */
  @Test
  void streamedBlocksMatchTheReference() {
    for (int resident = 0; resident <= 4; resident += 3) {
      DeviceLedger ledger = new DeviceLedger(Long.MAX_VALUE);
      try (TensorStore store =
              TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
          NextDitTransformer model =
              placed(store, resident, ledger, BlockStore.Float8.AS_STORED, 0);
          NDManager m = NDManager.newBaseManager(Device.cpu())) {
        long residentBooked = ledger.inUseBytes();
        NDArray out = forward(model, m);
        double err = NewbieFixture.relErr(expected, "dit.out", out);
        System.out.printf("next-dit, %d of 4 blocks resident: rel L2 %.3e%n", resident, err);
        assertTrue(err <= 1e-4, resident + " resident: rel L2 " + err);
        BlockStore blocks = model.blocks();
        assertEquals(residentBooked, blocks.residentBytes());
        assertEquals(4 - Math.min(resident, 4), blocks.streamedBytesPerPass() / blockBytes(4));
        assertEquals(blocks.streamedBytesPerPass(), blocks.bytesCopied());
        assertEquals(residentBooked, ledger.inUseBytes(), "a lease left a booking behind");
      }
    }
  }

  /**
   * Attention in chunks of query rows (FLUX's ChunkedAttention around the key-masked attention):
   * each row's softmax depends on its own scores only, so chunks of 7 rows (not dividing the
   * caption's or the image's rows) and of 1 row give the reference's output as the unchunked pass
   * does.
   */
  @Test
  void chunkedAttentionMatchesTheReference() {
    for (int chunk : new int[] {7, 1}) {
      try (TensorStore store =
              TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
          NextDitTransformer model =
              placed(
                  store, 2, new DeviceLedger(Long.MAX_VALUE), BlockStore.Float8.AS_STORED, chunk);
          NDManager m = NDManager.newBaseManager(Device.cpu())) {
        double err = NewbieFixture.relErr(expected, "dit.out", forward(model, m));
        System.out.printf("next-dit, attention in chunks of %d rows: rel L2 %.3e%n", chunk, err);
        assertTrue(err <= 1e-4, "chunk " + chunk + ": rel L2 " + err);
      }
    }
    assertThrows(
        IllegalArgumentException.class,
        () ->
            NextDitTransformer.load(
                null,
                params,
                0,
                new DeviceLedger(Long.MAX_VALUE),
                HostToDevice.synchronous(),
                Widener.lookupTable(),
                BlockStore.Float8.AS_STORED,
                -1));
  }

  /** The fixture's DiT with its blocks in a {@link BlockStore}, float32 on the CPU. */
  private static NextDitTransformer placed(
      TensorStore store, int resident, DeviceLedger ledger, BlockStore.Float8 float8, int chunk) {
    return NextDitTransformer.load(
        new Weights(store, ComputeTarget.cpu()),
        params,
        resident,
        ledger,
        HostToDevice.synchronous(),
        Widener.lookupTable(),
        float8,
        chunk);
  }

  /**
   * An fp8 checkpoint (the fixture's block matrices rounded to e4m3fn, unscaled, everything else
   * float32): its blocks are recognised as fp8 and kept as bytes (one per matrix weight on the
   * device), widened per block, and compute what the same checkpoint widened whole at load
   * computes.
   */
  @Test
  void anFp8CheckpointsBlocksStayBytesAndMatchTheWidenedModel(@TempDir Path dir)
      throws IOException {
    Path file = NewbieFixture.writeFp8Transformer(dir);
    assertEquals(
        StorageType.FP8,
        NewbieDirectory.resolve(NewbieFixture.DIR, file.toString()).blockStorage());
    assertEquals(StorageType.FP16, NewbieDirectory.resolve(NewbieFixture.DIR, null).blockStorage());
    DeviceLedger ledger = new DeviceLedger(Long.MAX_VALUE);
    try (TensorStore store = TensorStore.open(file);
        NextDitTransformer whole =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NextDitTransformer model = placed(store, 2, ledger, BlockStore.Float8.AS_STORED, 0);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      long perBlock = dims().blockMatrixParams(true) + dims().blockVectorParams(true) * 4;
      assertEquals(2 * perBlock, model.blocks().residentBytes());
      assertEquals(2 * perBlock, model.blocks().streamedBytesPerPass());
      double err = TensorAssert.relErr(floats(forward(whole, m)), floats(forward(model, m)));
      System.out.printf(
          "next-dit, fp8 checkpoint, blocks kept fp8 vs widened at load: rel L2 %.3e%n", err);
      assertTrue(err <= 1e-6, "rel L2 " + err);
      // The unscaled e4m3fn rounding did change the model (the reference is float32).
      double ref = NewbieFixture.relErr(expected, "dit.out", forward(model, m));
      System.out.printf("next-dit, unscaled fp8 checkpoint vs dit.out: rel L2 %.3e%n", ref);
      assertTrue(ref > 1e-4, "the fp8 checkpoint vs dit.out: rel L2 " + ref);
    }
  }

  /** The fixture's dimensions as the memory model counts them. */
  private static NextDitDims dims() {
    return NewbieDirectory.resolve(NewbieFixture.DIR, null).dims().nextDit();
  }

  /** Bytes of one streamable block of the fixture at {@code bytes} per parameter. */
  private static long blockBytes(int bytes) {
    return (dims().blockMatrixParams(true) + dims().blockVectorParams(true)) * bytes;
  }

  /**
   * Block matrices narrowed to e4m3fn when loaded (a per-tensor scale each), widened per block for
   * compute: the output departs from the float32 reference by what e4m3fn's 3-bit mantissa costs.
   * One rounding to nearest errs by at most 2^-4 = 6.25 % of a value and by about 2^-4/√3 ≈ 3.6 %
   * RMS for values spread over a binade (uniform rounding error); the per-tensor scale keeps small
   * weights out of e4m3fn's subnormals. Each matrix product then carries a few percent of relative
   * error, the errors of six matrices per block through four blocks partly cancelling and partly
   * damped by the sandwich RMS norms: measured 4.4e-2 relative L2 on the fixture. The bound, 0.10,
   * is that with a factor ≈ 2 of margin; the same model with 16-bit blocks stays within 1e-4, and
   * the lower bound shows the narrowing happened.
   */
  @Test
  void float8BlocksStayWithinFloat8sPrecision() {
    for (int resident : new int[] {4, 1}) {
      DeviceLedger ledger = new DeviceLedger(Long.MAX_VALUE);
      try (TensorStore store =
              TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
          NextDitTransformer model = placed(store, resident, ledger, BlockStore.Float8.NARROW, 0);
          NDManager m = NDManager.newBaseManager(Device.cpu())) {
        NDArray out = forward(model, m);
        double err = NewbieFixture.relErr(expected, "dit.out", out);
        System.out.printf(
            "next-dit, e4m3fn blocks (%d of 4 resident) vs dit.out: rel L2 %.3e%n", resident, err);
        assertTrue(err <= 0.10, "fp8 rel L2 " + err);
        assertTrue(err > 1e-4, "fp8 blocks changed nothing: were they narrowed? " + err);
        // One byte per matrix weight, the vectors in float32: what the memory model counts.
        long perBlock = dims().blockMatrixParams(true) + dims().blockVectorParams(true) * 4;
        assertEquals(resident * perBlock, model.blocks().residentBytes());
        assertEquals((4 - resident) * perBlock, model.blocks().streamedBytesPerPass());
      }
    }
  }

  @Test
  void comfyUiSingleFilePrefixIsFound() {
    try (TensorStore file =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        TensorStore comfy = new PrefixingStore(file, "model.diffusion_model.");
        NextDitTransformer model =
            NextDitTransformer.load(
                NextDitTransformer.weightsOf(comfy, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      double err = NewbieFixture.relErr(expected, "dit.out", forward(model, m));
      assertTrue(err <= 1e-4, "prefixed checkpoint rel L2 " + err);
    }
  }

  @Test
  void guidedPassWithNormClampMatchesForwardWithCfg() {
    assertGuided("cfg", new GuidedVelocity.Applied(true, true));
  }

  @Test
  void truncatedGuidanceRunsTheConditionalHalfAlone() {
    assertGuided("cfg_trunc", new GuidedVelocity.Applied(false, false));
  }

  @Test
  void forwardLeavesTheParametersAloneAndReturnsOnTheCallersManager() {
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      model.manager().cap();
      NDArray first = forward(model, m);
      NDArray second = forward(model, m);
      // The same code on the same inputs in one process: equal values on any machine.
      assertEquals(0.0, TensorAssert.relErr(floats(first), floats(second)));
      assertTrue(NewbieFixture.relErr(expected, "dit.out", first) <= 1e-4);
      assertEquals(m, first.getManager());
      assertEquals(new Shape(2, 16, 6, 10), first.getShape());
    }
  }

  @Test
  void misshapenWeightIsNamed() {
    try (TensorStore store =
        TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"))) {
      NextDitParams wider =
          new NextDitParams(
              2, 16, 32, 2, 2, 4, 2, 32, 2.0, 1e-5f, 48, List.of(2, 2, 4), List.of(1, 1, 1), 32);
      var e =
          assertThrows(
              SafetensorsException.class,
              () ->
                  NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), wider).close());
      assertTrue(e.getMessage().contains("feed_forward.w1.weight"), e.getMessage());
      assertTrue(e.getMessage().contains("[256, 32]"), e.getMessage());
    }
  }

  @Test
  void badLatentShapeIsRefused() {
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray x = m.zeros(new Shape(2, 16, 5, 10));
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  model.forward(
                      x,
                      in(m, "dit.in.t"),
                      in(m, "dit.in.cap_feats"),
                      in(m, "dit.in.cap_mask"),
                      in(m, "dit.in.clip_text_pooled")));
      assertTrue(e.getMessage().contains("multiples of 2"), e.getMessage());
    }
  }

  private void assertParity(String file, String want) {
    try (TensorStore store = TensorStore.open(NewbieFixture.TRANSFORMER.resolve(file));
        NextDitTransformer model =
            NextDitTransformer.load(
                NextDitTransformer.weightsOf(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out = forward(model, m);
      double err = NewbieFixture.relErr(expected, want, out);
      System.out.printf("next-dit %s vs %s: rel L2 %.3e%n", file, want, err);
      assertTrue(err <= 1e-4, file + " rel L2 " + err);
    }
  }

  private void assertGuided(String name, GuidedVelocity.Applied want) {
    var c = NewbieFixture.caseJson();
    GuidedVelocity cfg =
        new GuidedVelocity(
            (float) c.get("cfg_scale").asDouble(),
            (float) c.get("cfg_trunc").asDouble(),
            (float) c.get("renorm_cfg").asDouble());
    try (TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(new Weights(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      GuidedVelocity.Applied[] applied = new GuidedVelocity.Applied[1];
      NDArray out =
          cfg.forward(
              model,
              in(m, "dit." + name + ".in.x"),
              in(m, "dit." + name + ".in.t"),
              in(m, "dit.in.cap_feats"),
              in(m, "dit.in.cap_mask"),
              in(m, "dit.in.clip_text_pooled"),
              applied);
      double err = NewbieFixture.relErr(expected, "dit." + name + ".out", out);
      System.out.printf("next-dit %s vs dit.%s.out: rel L2 %.3e%n", name, name, err);
      assertTrue(err <= 1e-4, name + " rel L2 " + err);
      assertEquals(want, applied[0]);
    }
  }

  private static NDArray forward(NextDitTransformer model, NDManager m) {
    return model.forward(
        in(m, "dit.in.x"),
        in(m, "dit.in.t"),
        in(m, "dit.in.cap_feats"),
        in(m, "dit.in.cap_mask"),
        in(m, "dit.in.clip_text_pooled"));
  }

  private static NDArray in(NDManager m, String name) {
    return NewbieFixture.load(expected, name, m);
  }

  /**
   * The layout recorded from the loading code (what the synthetic benchmark fills) is the fixture's
   * checkpoint, key for key and shape for shape, but for {@code norm_final.weight}, which the
   * forward pass never reads; and the newbie-tiny preset's parameters are the fixture's.
   */
  @Test
  void theRecordedLayoutIsTheCheckpointsAndThePresetIsTheFixture() {
    NextDitParams fixture = NextDitParams.read(NewbieFixture.DIR.resolve("transformer"));
    NextDitParams preset = NextDitParams.of(dev.fleet.model.memory.NewbieDims.TINY.nextDit());
    assertEquals(fixture.ffnDim(), preset.ffnDim());
    assertEquals(fixture.dim(), preset.dim());
    assertEquals(fixture.nKvHeads(), preset.nKvHeads());
    assertEquals(fixture.axesDims(), preset.axesDims());
    java.util.Map<String, long[]> shapes = NextDitTransformer.parameterShapes(preset);
    try (TensorStore store =
        TensorStore.open(NewbieFixture.DIR.resolve("transformer/newbie.safetensors"))) {
      java.util.Set<String> stored = new java.util.TreeSet<>(store.names());
      stored.remove("norm_final.weight");
      assertEquals(stored, new java.util.TreeSet<>(shapes.keySet()));
      shapes.forEach((k, v) -> assertTrue(java.util.Arrays.equals(store.entry(k).shape(), v), k));
    }
  }
}
