package dev.fleet.engine.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * T5 with its blocks streamed from host memory gives the resident encoder's output, booking at most
 * its head and two blocks, and copies every block once per encode.
 */
class StreamedT5EncoderTest {
  private static final Path DIR = Fixtures.MODEL.resolve("text_encoder_2");

  private static float[] resident(ComputeTarget target, NDArray ids) {
    try (T5Encoder model = T5Encoder.load(DIR, target)) {
      return model.forward(ids).toType(DataType.FLOAT32, false).toFloatArray();
    }
  }

  private static float[] streamed(StreamedT5Encoder host, NDArray ids) {
    try (T5Encoder model = host.onDevice()) {
      return model.forward(ids).toType(DataType.FLOAT32, false).toFloatArray();
    }
  }

  /** The fixture's T5 ids, copied off the store (which may be memory-mapped). */
  private static NDArray fixtureIds(NDManager m) {
    try (TensorStore expected = TensorStore.open(Fixtures.EXPECTED)) {
      return new Weights(expected, ComputeTarget.cpu()).load("t5.in.ids", m).duplicate();
    }
  }

  @Test
  void matchesTheResidentEncoderInFloat32WithinHeadAndTwoBlocks() {
    DeviceLedger ledger = DeviceLedger.unlimited();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        StreamedT5Encoder host =
            StreamedT5Encoder.load(DIR, ComputeTarget.cpu(), ledger, HostToDevice.synchronous())) {
      NDArray ids = fixtureIds(m);
      float[] expected = resident(ComputeTarget.cpu(), ids);
      assertEquals(0, ledger.inUseBytes(), "host copies book nothing");
      for (int encode = 1; encode <= 2; encode++) {
        ledger.resetPeak();
        float[] actual = streamed(host, ids);
        double err = TensorAssert.relErr(expected, actual);
        System.out.printf(
            "streamed t5 fp32 encode %d: rel L2 %.3g vs resident, copied %d B (%d B per encode),"
                + " device peak %d B (head %d B, largest block %d B)%n",
            encode,
            err,
            host.bytesCopied(),
            host.bytesPerEncode(),
            ledger.peakBytes(),
            host.headBytes(),
            host.largestLayerBytes());
        assertTrue(err <= 1e-6, "rel L2 " + err);
        assertEquals(encode * host.bytesPerEncode(), host.bytesCopied());
        assertEquals(0, ledger.inUseBytes(), "everything released after the encode");
      }
      assertEquals(host.headBytes() + 2 * host.largestLayerBytes(), ledger.peakBytes());
      assertEquals(0, host.prefetchesSkipped());
      assertEquals(2, host.config().dims().layers());
    }
  }

  @Test
  void aBudgetForOneBlockSkipsThePrefetchAndStillAgrees() {
    long oneBlock;
    try (StreamedT5Encoder probe =
        StreamedT5Encoder.load(
            DIR, ComputeTarget.cpu(), DeviceLedger.unlimited(), HostToDevice.synchronous())) {
      oneBlock = probe.headBytes() + probe.largestLayerBytes();
    }
    DeviceLedger ledger = new DeviceLedger(oneBlock);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        StreamedT5Encoder host =
            StreamedT5Encoder.load(DIR, ComputeTarget.cpu(), ledger, HostToDevice.synchronous())) {
      NDArray ids = fixtureIds(m);
      double err = TensorAssert.relErr(resident(ComputeTarget.cpu(), ids), streamed(host, ids));
      assertTrue(err <= 1e-6, "rel L2 " + err);
      assertTrue(ledger.peakBytes() <= oneBlock);
      assertTrue(host.prefetchesSkipped() > 0, "no room for a second block");
      assertEquals(0, ledger.inUseBytes());
    }
  }

  @Test
  void aBudgetBelowTheHeadIsRefusedBeforeAnythingIsCopied() {
    DeviceLedger ledger = new DeviceLedger(1024);
    try (StreamedT5Encoder host =
        StreamedT5Encoder.load(DIR, ComputeTarget.cpu(), ledger, HostToDevice.synchronous())) {
      BudgetExceededException e = assertThrows(BudgetExceededException.class, host::onDevice);
      assertTrue(e.getMessage().contains("t5 embedding"), e.getMessage());
      assertEquals(0, host.bytesCopied());
      assertEquals(0, ledger.inUseBytes());
    }
  }

  @Test
  void float16MatchesTheResidentFloat16Encoder() {
    var half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    DeviceLedger ledger = DeviceLedger.unlimited();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        StreamedT5Encoder host =
            StreamedT5Encoder.load(DIR, half, ledger, HostToDevice.synchronous())) {
      NDArray ids = fixtureIds(m);
      double err = TensorAssert.relErr(resident(half, ids), streamed(host, ids));
      System.out.printf("streamed t5 fp16: rel L2 %.3g vs resident fp16%n", err);
      assertTrue(err <= 1e-6, "rel L2 " + err);
      assertEquals(0, ledger.inUseBytes());
    }
  }
}
