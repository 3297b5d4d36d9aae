package dev.fleet.engine.flux;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Partly resident, partly streamed DiT blocks: the same output as all-resident ones, every device
 * byte booked and released, float8 moved as bytes, the next block's copy begun during a lease.
 */
class StreamedBlocksTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");
  private static final String[] INPUTS = {
    "img", "img_ids", "txt", "txt_ids", "y", "timesteps", "guidance"
  };

  private static TensorStore expected;
  private static FluxParams params;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(Fixtures.EXPECTED);
    params = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void everySplitGivesTheResidentOutputFloat32() {
    assertSplitsAgree("flux.safetensors", "dit.out");
  }

  @Test
  void everySplitGivesTheResidentOutputFloat8() {
    assertSplitsAgree("flux-fp8-e4m3fn.safetensors", "dit.out.fp8");
  }

  private void assertSplitsAgree(String file, String reference) {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve(file));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      float[] resident;
      try (FluxTransformer model = FluxTransformer.load(w, params)) {
        resident = forward(model, m).toFloatArray();
      }
      int[][] splits = {{2, 2}, {1, 1}, {0, 0}, {2, 0}, {0, 2}};
      for (int[] split : splits) {
        DeviceLedger ledger = DeviceLedger.unlimited();
        StreamedBlocks[] blocks = new StreamedBlocks[1];
        try (FluxTransformer model = load(w, split[0], split[1], ledger, blocks)) {
          model.manager().cap();
          long residentBooked = ledger.inUseBytes();
          float[] out = forward(model, m).toFloatArray();
          float[] again = forward(model, m).toFloatArray();
          double err = relErr(resident, out);
          System.out.printf(
              "%s resident %d+%d: rel L2 vs all resident %.3e, streamed %d B/pass, peak %d B%n",
              file, split[0], split[1], err, blocks[0].streamedBytesPerPass(), ledger.peakBytes());
          assertTrue(err <= 1e-6, file + " split " + split[0] + "+" + split[1] + ": " + err);
          assertEquals(0, relErr(out, again), "a second pass must give the same result");
          assertTrue(relErr(input(m, reference).toFloatArray(), out) <= 1e-4);
          assertEquals(2 * blocks[0].streamedBytesPerPass(), blocks[0].bytesCopied());
          assertEquals(
              expectedStreamedBytes(store, split[0], split[1]), blocks[0].streamedBytesPerPass());
          assertEquals(residentBooked, ledger.inUseBytes(), "a pass leaves nothing booked");
        }
        assertEquals(
            0, ledger.inUseBytes(), "closing frees every booking: " + ledger.liveBookings());
      }
    }
  }

  /**
   * Bytes of the streamed blocks' storage form, from the checkpoint's headers: float8 stays one
   * byte per weight, the rest is held in the compute dtype (float32 here).
   */
  private static long expectedStreamedBytes(
      TensorStore store, int residentDouble, int residentSingle) {
    long n = 0;
    for (String name : store.names()) {
      boolean streamed =
          isStreamed(name, "double_blocks.", residentDouble)
              || isStreamed(name, "single_blocks.", residentSingle);
      if (streamed) {
        TensorEntry e = store.entry(name);
        n += e.elements() * (e.dtype() == DType.F8_E4M3 ? 1 : 4);
      }
    }
    return n;
  }

  private static boolean isStreamed(String name, String prefix, int resident) {
    if (!name.startsWith(prefix)) {
      return false;
    }
    int index = Integer.parseInt(name.substring(prefix.length()).split("\\.")[0]);
    return index >= resident;
  }

  @Test
  void residentFloat8StaysBytesAndIsWidenedPerCall() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux-fp8-e4m3fn.safetensors"));
        TensorStore wide = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      DeviceLedger fp8 = DeviceLedger.unlimited();
      DeviceLedger fp32 = DeviceLedger.unlimited();
      Weights w8 = new Weights(store, ComputeTarget.cpu());
      Weights w32 = new Weights(wide, ComputeTarget.cpu());
      try (StreamedBlocks a = StreamedBlocks.load(w8, params, 2, 2, fp8, sync(), lut());
          StreamedBlocks b = StreamedBlocks.load(w32, params, 2, 2, fp32, sync(), lut())) {
        assertEquals(a.residentBytes(), fp8.inUseBytes());
        assertEquals(b.residentBytes(), fp32.inUseBytes());
        System.out.printf(
            "resident blocks: fp8 storage %d B, fp32 %d B%n", a.residentBytes(), b.residentBytes());
        assertTrue(a.residentBytes() < b.residentBytes() / 2, "float8 resident as bytes");
        try (BlockLease<DoubleStreamBlock> lease = a.doubleBlock(0)) {
          assertTrue(fp8.inUseBytes() > a.residentBytes(), "widened weights are booked");
          assertEquals(DataType.FLOAT32, lease.block().imgMlpIn().weight().getDataType());
        }
        assertEquals(a.residentBytes(), fp8.inUseBytes());
      }
    }
  }

  @Test
  void tightBudgetHoldsAndSkipsThePrefetchItCannotAfford() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux-fp8-e4m3fn.safetensors"));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      // Measure what one streamed block with its widened weights needs, then allow only that.
      DeviceLedger probe = DeviceLedger.unlimited();
      long oneBlock;
      try (StreamedBlocks s = StreamedBlocks.load(w, params, 0, 0, probe, sync(), lut())) {
        probe.resetPeak();
        try (BlockLease<DoubleStreamBlock> lease = s.doubleBlock(0)) {
          // double 0 copied and widened, double 1 (as large) prefetched
          oneBlock = probe.peakBytes() - s.largestStreamedBlockBytes();
        }
        s.cancelPrefetch();
      }
      DeviceLedger tight = new DeviceLedger(oneBlock);
      StreamedBlocks[] blocks = new StreamedBlocks[1];
      try (FluxTransformer model = load(w, 0, 0, tight, blocks)) {
        NDArray out = forward(model, m);
        assertTrue(relErr(input(m, "dit.out.fp8").toFloatArray(), out.toFloatArray()) <= 1e-4);
        assertTrue(tight.peakBytes() <= tight.budgetBytes());
        assertTrue(blocks[0].prefetchesSkipped() > 0, "no room for a second block");
      }
      // With room for two blocks every streamed block but the first is prefetched.
      DeviceLedger roomy = new DeviceLedger(4 * oneBlock);
      try (FluxTransformer model = load(w, 0, 0, roomy, blocks)) {
        forward(model, m);
        assertEquals(0, blocks[0].prefetchesSkipped());
      }
    }
  }

  @Test
  void nextBlockIsCopiedWhileTheCurrentOneIsLeased() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      List<String> log = new ArrayList<>();
      HostToDevice logging =
          (host, device) -> {
            log.add("begin " + host.size());
            HostToDevice.Transfer t = HostToDevice.synchronous().begin(host, device);
            return () -> {
              log.add("await");
              return t.await();
            };
          };
      try (StreamedBlocks s =
          StreamedBlocks.load(w, params, 0, 0, DeviceLedger.unlimited(), logging, lut())) {
        log.clear();
        try (BlockLease<DoubleStreamBlock> d0 = s.doubleBlock(0)) {
          // double 0 copied on demand, double 1 begun before double 0's copy is awaited
          assertEquals(List.of("begin 24", "begin 24", "await"), log);
        }
        try (BlockLease<DoubleStreamBlock> d1 = s.doubleBlock(1)) {
          // double 1 was prefetched; single 0's copy is begun before double 1's is awaited
          assertEquals(List.of("begin 24", "begin 24", "await", "begin 8", "await"), log);
        }
        s.cancelPrefetch();
      }
    }
  }

  @Test
  void failedCopyLeavesNothingBooked() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      AtomicInteger calls = new AtomicInteger();
      HostToDevice failing =
          (host, device) -> {
            if (calls.incrementAndGet() == 3) {
              throw new EngineException("CUDA out of memory. Tried to allocate 2.00 MiB");
            }
            return HostToDevice.synchronous().begin(host, device);
          };
      DeviceLedger ledger = DeviceLedger.unlimited();
      StreamedBlocks[] blocks = new StreamedBlocks[1];
      try (FluxTransformer model = load(w, 1, 0, ledger, blocks, failing)) {
        long resident = ledger.inUseBytes();
        assertThrows(EngineException.class, () -> forward(model, m));
        blocks[0].cancelPrefetch();
        assertEquals(resident, ledger.inUseBytes(), "left booked: " + ledger.liveBookings());
        // The source is still usable.
        NDArray out = forward(model, m);
        assertTrue(relErr(input(m, "dit.out").toFloatArray(), out.toFloatArray()) <= 1e-4);
      }
      assertEquals(0, ledger.inUseBytes());
    }
  }

  @Test
  void residentBlocksBeyondTheBudgetAreRefusedByName() {
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"))) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      DeviceLedger small = new DeviceLedger(100_000);
      BudgetExceededException e =
          assertThrows(
              BudgetExceededException.class,
              () -> StreamedBlocks.load(w, params, 2, 2, small, sync(), lut()).close());
      assertTrue(e.getMessage().contains("double_blocks."), e.getMessage());
      assertTrue(e.getMessage().contains("resident"), e.getMessage());
      assertEquals(0, small.inUseBytes(), "a failed load releases what it booked");
      assertThrows(
          IllegalArgumentException.class,
          () -> StreamedBlocks.load(w, params, -1, 0, small, sync(), lut()));
    }
  }

  private static FluxTransformer load(
      Weights w,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      StreamedBlocks[] out) {
    return load(w, residentDouble, residentSingle, ledger, out, sync());
  }

  private static FluxTransformer load(
      Weights w,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      StreamedBlocks[] out,
      HostToDevice h2d) {
    return FluxTransformer.load(
        w,
        params,
        ignored -> {
          out[0] =
              StreamedBlocks.load(w, params, residentDouble, residentSingle, ledger, h2d, lut());
          return out[0];
        },
        AttentionKernel.EAGER);
  }

  private static HostToDevice sync() {
    return HostToDevice.synchronous();
  }

  private static Widener lut() {
    return Widener.lookupTable();
  }

  private static NDArray forward(FluxTransformer model, NDManager m) {
    return forward(model, m, expected);
  }

  /** The DiT on the fixture's {@code dit.in.*} inputs. */
  static NDArray forward(FluxTransformer model, NDManager m, TensorStore inputs) {
    NDArray[] in = new NDArray[INPUTS.length];
    for (int i = 0; i < INPUTS.length; i++) {
      in[i] = new Weights(inputs, ComputeTarget.cpu()).load("dit.in." + INPUTS[i], m);
    }
    return model.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
  }

  private static NDArray input(NDManager m, String name) {
    return new Weights(expected, ComputeTarget.cpu()).load(name, m);
  }
}
