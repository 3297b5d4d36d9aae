package dev.fleet.engine.pipeline;

import static dev.fleet.testing.ImageAssert.assertClose;
import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.model.ModelDimsReader;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.text.StreamedT5Encoder;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.EngineProfile;
import dev.fleet.model.memory.Residency;
import dev.fleet.testing.ImageAssert;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The plans the planner makes for FLUX.1-dev under 8 and 12 GiB, run as planned on the tiny model:
 * T5 streamed block by block, the autoencoder loaded for the decode only, the DiT partly streamed.
 * Their images are compared with the plain pipeline's by {@link ImageAssert} (another code path).
 */
class StreamedTextPlanTest {
  private static final long GIB = 1L << 30;

  static ModelDirectory model;
  static GenerationSpec spec;
  static PlanRecorder plain;
  static GeneratedImage plainImage;

  @BeforeAll
  static void runThePlainPipeline() {
    ReferenceRun reference = ReferenceRun.plain();
    model = reference.model();
    spec = reference.spec();
    plain = reference.trace();
    plainImage = reference.image();
  }

  private static ExecutionPlan plan(String name, Residency t5, Residency ae, long budget) {
    return new ExecutionPlan(name, 1, 1, t5, ae, 0, 0, budget);
  }

  private static PlannedPipeline load(ExecutionPlan p) {
    return PlannedPipeline.load(
        model, ComputeTarget.cpu(), List.of(p), ExecutionOptions.defaults());
  }

  @Test
  void streamedT5AndStagedAutoencoderGiveThePlainPipelinesImage() {
    ExecutionPlan p =
        plan("dit-partial+t5-streamed+ae-staged", Residency.STREAMED, Residency.STAGED, GIB);
    try (PlannedPipeline pipeline = load(p)) {
      TextStage text = pipeline.textStage();
      assertEquals(Residency.STREAMED, text.t5());
      assertEquals(0, text.encoderLoads(), "nothing of the encoders on the device before a job");
      PlanRecorder r = new PlanRecorder();
      PlannedGeneration first = pipeline.generate(spec, r);
      double image = relErr(plain.tensors.get("pipe.image"), r.tensors.get("pipe.image"));
      System.out.printf(
          "t5 streamed + ae staged + dit 1+1: image rel L2 %.2e, T5 moved %d B (%d B per encode),"
              + " DiT %d B/step, peak %d of %d B at %s%n",
          image,
          first.textBytesMoved(),
          pipeline.t5BytesPerEncode(),
          first.bytesMovedPerStep()[0],
          first.peakBytes(),
          first.budgetBytes(),
          first.bookingsAtPeak());
      assertClose(plainImage.rgb(), first.image().rgb(), plainImage.width(), p.name());
      assertTrue(image <= 1e-6, "image rel L2 " + image);
      assertTrue(first.peakBytes() <= first.budgetBytes());
      assertTrue(pipeline.t5BytesPerEncode() > 0);
      assertEquals(pipeline.t5BytesPerEncode(), first.textBytesMoved());
      assertEquals(1, text.encoderLoads());
      for (String booking : pipeline.ledger().liveBookings()) {
        assertTrue(
            !booking.contains("autoencoder")
                && !booking.contains("t5")
                && !booking.contains("clip"),
            "staged and streamed weights are released after the job: " + booking);
      }

      PlannedGeneration second = pipeline.generate(spec, GenerationListener.NONE);
      assertEquals(1, text.encoderLoads(), "a cache hit loads no encoder");
      assertEquals(1, text.encoderRuns());
      assertEquals(0, second.textBytesMoved(), "a cache hit streams nothing");
      assertArrayEquals(first.image().png(), second.image().png(), "the same plan again");
      assertEquals(0, pipeline.liveJobArrays());
    }
  }

  /** The text phase alone: one encode under {@code budget}, returning the ledger's peak. */
  private static long encodePeak(Residency t5, long budget) {
    DeviceLedger ledger = new DeviceLedger(budget);
    try (NDManager job = NDManager.newBaseManager();
        TextStage text =
            TextStage.load(
                model,
                512,
                ComputeTarget.cpu(),
                t5,
                new PromptEmbeddingCache(8, 1 << 20),
                ledger,
                HostToDevice.synchronous(),
                ModelDimsReader.read(model),
                EngineProfile.DJL_EAGER)) {
      text.embed(spec.prompt(), job).close();
      assertEquals(0, ledger.inUseBytes(), t5 + ": the encoders are released after the encode");
      return ledger.peakBytes();
    }
  }

  @Test
  void streamingT5NeedsOneBlockLessThanStagingItAndTheJobStaysWithinItsBudget() {
    long staged = encodePeak(Residency.STAGED, GIB);
    long streamedWithPrefetch = encodePeak(Residency.STREAMED, GIB);
    long oneBlock;
    try (StreamedT5Encoder t5 =
        StreamedT5Encoder.load(
            model.t5(),
            ComputeTarget.cpu(),
            DeviceLedger.unlimited(),
            HostToDevice.synchronous())) {
      oneBlock = t5.largestLayerBytes();
    }
    // Two blocks fit beside CLIP and the head only if prefetching: one block less still encodes.
    long tight = streamedWithPrefetch - oneBlock;
    long streamedTight = encodePeak(Residency.STREAMED, tight);
    System.out.printf(
        "text phase peak: T5 staged %d B; T5 streamed %d B with prefetch, %d B under a %d-B"
            + " budget (prefetch skipped, one block %d B); staged under that budget: refused%n",
        staged, streamedWithPrefetch, streamedTight, tight, oneBlock);
    assertTrue(streamedWithPrefetch <= staged, "head and two blocks of a two-block T5");
    assertTrue(streamedTight <= tight && streamedTight < staged);
    BudgetExceededException e =
        assertThrows(BudgetExceededException.class, () -> encodePeak(Residency.STAGED, tight));
    assertTrue(e.getMessage().contains("device budget exceeded"), e.getMessage());

    // The same planned job, now run as planned, against the one the executor used to run for it
    // (T5 staged whole, the autoencoder resident): between jobs only the DiT stays booked.
    long[] between = new long[2];
    long[] peaks = new long[2];
    ExecutionPlan[] plans = {
      plan("as-planned", Residency.STREAMED, Residency.STAGED, GIB),
      plan("as-run-before", Residency.STAGED, Residency.RESIDENT, GIB)
    };
    for (int i = 0; i < 2; i++) {
      try (PlannedPipeline pipeline = load(plans[i])) {
        between[i] = pipeline.ledger().inUseBytes();
        PlannedGeneration g = pipeline.generate(spec, GenerationListener.NONE);
        peaks[i] = g.peakBytes();
        assertTrue(g.peakBytes() <= g.budgetBytes());
        assertClose(plainImage.rgb(), g.image().rgb(), plainImage.width(), plans[i].name());
      }
    }
    System.out.printf(
        "job: as planned (t5 streamed, ae staged) peak %d B, %d B booked between jobs;"
            + " as run before (t5 staged, ae resident) peak %d B, %d B between jobs%n",
        peaks[0], between[0], peaks[1], between[1]);
    assertTrue(between[0] < between[1], "the staged autoencoder is not booked between jobs");
    assertTrue(peaks[0] <= peaks[1]);
  }
}
