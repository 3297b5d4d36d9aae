package dev.fleet.engine.pipeline;

import static dev.fleet.testing.ImageAssert.assertClose;
import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.DType;
import dev.fleet.engine.safetensors.TensorEntry;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.Residency;
import dev.fleet.testing.ImageAssert;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every kind of plan gives the plain pipeline's latents and image, within a ledger budget that it
 * never exceeds, and reports the bytes it streamed. A plan is another code path than the plain
 * pipeline: tensors are compared by relative L2 error, images with {@link ImageAssert}; the same
 * plan twice gives the same bytes.
 */
class PlannedPipelineTest {
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

  @AfterAll
  static void forget() {
    plain = null;
  }

  static ExecutionPlan plan(
      String name, int d, int s, boolean staged, int tile, int chunk, long budget) {
    Residency t5 = staged ? Residency.STAGED : Residency.RESIDENT;
    return new ExecutionPlan(name, d, s, t5, Residency.RESIDENT, tile, chunk, budget);
  }

  @Test
  void everyPlanGivesThePlainPipelinesLatents() {
    List<ExecutionPlan> plans =
        List.of(
            ExecutionPlan.allResident(GIB),
            plan("half-streamed", 1, 1, false, 0, 0, GIB),
            plan("fully-streamed", 0, 0, false, 0, 0, GIB),
            plan("staged-text", 2, 2, true, 0, 0, GIB),
            plan("tiled-decode", 2, 2, false, 5, 0, GIB),
            plan("chunked-attention", 2, 2, false, 0, 16, GIB),
            plan("frugal", 0, 0, true, 4, 7, GIB));
    for (ExecutionPlan p : plans) {
      PlanRecorder r = new PlanRecorder();
      try (PlannedPipeline pipeline =
          PlannedPipeline.load(
              model, ComputeTarget.cpu(), List.of(p), ExecutionOptions.defaults())) {
        PlannedGeneration g = pipeline.generate(spec, r);
        assertEquals(p, g.plan());
        assertTrue(g.events().isEmpty(), "no fallback expected: " + g.events());
        double worst = 0;
        for (int k = 0; k < spec.steps(); k++) {
          String name = "pipe.latents.step" + k;
          worst = Math.max(worst, relErr(plain.tensors.get(name), r.tensors.get(name)));
        }
        double image = relErr(plain.tensors.get("pipe.image"), r.tensors.get("pipe.image"));
        System.out.printf(
            "plan %-17s latents rel L2 %.2e, image %.2e, streamed %7d B/step, peak %s of %s;"
                + " pixels: %s%n",
            p.name(),
            worst,
            image,
            g.bytesMovedPerStep()[0],
            g.peakBytes(),
            g.budgetBytes(),
            ImageAssert.compare(plainImage.rgb(), g.image().rgb(), plainImage.width()));
        assertTrue(worst <= 1e-5, p.name() + ": latents rel L2 " + worst);
        assertTrue(image <= (p.tiledDecode() ? 1e-3 : 1e-5), p.name() + ": image rel L2 " + image);
        assertClose(plainImage.rgb(), g.image().rgb(), plainImage.width(), p.name());
        assertTrue(g.peakBytes() <= g.budgetBytes());
        long expected = streamedBytes(p);
        assertEquals(expected, pipeline.streamedBytesPerStep(), p.name());
        for (long moved : g.bytesMovedPerStep()) {
          assertEquals(expected, moved, p.name() + ": bytes moved in a step");
        }
        assertEquals(0, pipeline.liveJobArrays(), p.name() + ": arrays left after the job");
      }
    }
  }

  /** Streamed blocks' bytes from the checkpoint's headers (float32 checkpoint, float32 compute). */
  private static long streamedBytes(ExecutionPlan p) {
    try (TensorStore store = model.openTransformer()) {
      long n = 0;
      for (String name : store.names()) {
        TensorEntry e = store.entry(name);
        assertEquals(DType.F32, e.dtype());
        if (streamed(name, "double_blocks.", p.residentDoubleBlocks())
            || streamed(name, "single_blocks.", p.residentSingleBlocks())) {
          n += e.byteSize();
        }
      }
      return n;
    }
  }

  private static boolean streamed(String name, String prefix, int resident) {
    return name.startsWith(prefix)
        && Integer.parseInt(name.substring(prefix.length()).split("\\.")[0]) >= resident;
  }

  @Test
  void tightestBudgetHoldsAndOneByteLessDoesNot() {
    ExecutionPlan probe = plan("frugal", 0, 0, true, 4, 7, GIB);
    long needed;
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model, ComputeTarget.cpu(), List.of(probe), ExecutionOptions.defaults())) {
      needed = p.generate(spec, GenerationListener.NONE).peakBytes();
    }
    System.out.printf("frugal plan needs %d bytes (booked peak)%n", needed);
    ExecutionPlan tight = plan("frugal", 0, 0, true, 4, 7, needed);
    PlanRecorder r = new PlanRecorder();
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model, ComputeTarget.cpu(), List.of(tight), ExecutionOptions.defaults())) {
      PlannedGeneration g = p.generate(spec, r);
      assertEquals(needed, g.peakBytes());
      assertTrue(g.peakBytes() <= g.budgetBytes());
      assertClose(plainImage.rgb(), g.image().rgb(), plainImage.width(), "frugal at its peak");
      assertTrue(g.events().isEmpty());
    }
    ExecutionPlan tooTight = plan("frugal", 0, 0, true, 4, 7, needed - 1);
    try (PlannedPipeline p =
        PlannedPipeline.load(
            model, ComputeTarget.cpu(), List.of(tooTight), ExecutionOptions.defaults())) {
      GenerationOutOfMemoryException e =
          assertThrows(
              GenerationOutOfMemoryException.class,
              () -> p.generate(spec, GenerationListener.NONE));
      assertEquals(
          List.of(PlanEvent.Kind.JOB_RETRIED, PlanEvent.Kind.RETRY_FAILED),
          e.events().stream().map(PlanEvent::kind).toList());
      assertTrue(e.getMessage().contains("device budget exceeded"), e.getMessage());
      assertEquals(0, p.liveJobArrays());
    }
  }

  @Test
  void samePromptTwiceRunsTheEncodersOnce() {
    for (boolean staged : new boolean[] {false, true}) {
      ExecutionPlan p = plan(staged ? "staged" : "resident-text", 2, 2, staged, 0, 0, GIB);
      try (PlannedPipeline pipeline =
          PlannedPipeline.load(
              model, ComputeTarget.cpu(), List.of(p), ExecutionOptions.defaults())) {
        TextStage text = pipeline.textStage();
        int loadsAtStart = text.encoderLoads();
        assertEquals(staged ? 0 : 1, loadsAtStart, "resident encoders load with the plan");
        PlannedGeneration first = pipeline.generate(spec, GenerationListener.NONE);
        PlannedGeneration second = pipeline.generate(spec, GenerationListener.NONE);
        assertEquals(1, text.encoderRuns(), "the second job hits the cache");
        assertEquals(staged ? 1 : 1, text.encoderLoads());
        // The same plan twice in one process: exact on any CPU.
        assertArrayEquals(first.image().png(), second.image().png(), "a cache hit, same bytes");
        assertClose(plainImage.rgb(), second.image().rgb(), plainImage.width(), p.name());
        assertEquals(1, pipeline.embeddingCache().hits());
        pipeline.generate(
            new GenerationSpec("another prompt", 1, 1, 32, 32, 3.5, "flux-tiny"),
            GenerationListener.NONE);
        assertEquals(2, text.encoderRuns());
        assertEquals(staged ? 2 : 1, text.encoderLoads());
        assertEquals(0, pipeline.liveJobArrays());
      }
    }
  }

  @Test
  void float16StreamingOfFloat8AgreesWithThePlainFloat16Pipeline() {
    ModelDirectory fp8 = ModelDirectory.resolve(Fixtures.MODEL, "flux-fp8-e4m3fn.safetensors");
    ComputeTarget half = new ComputeTarget(Device.cpu(), DataType.FLOAT16);
    PlanRecorder plainHalf = new PlanRecorder();
    PlanRecorder plainFull = new PlanRecorder();
    try (FluxPipeline p = FluxPipeline.load(fp8, half)) {
      p.generate(spec, plainHalf);
    }
    try (FluxPipeline p = FluxPipeline.load(fp8, ComputeTarget.cpu())) {
      p.generate(spec, plainFull);
    }
    ExecutionPlan p = plan("fp16-streamed", 1, 0, true, 0, 16, GIB);
    PlanRecorder r = new PlanRecorder();
    try (PlannedPipeline pipeline =
        PlannedPipeline.load(fp8, half, List.of(p), ExecutionOptions.defaults())) {
      PlannedGeneration g = pipeline.generate(spec, r);
      double worst = 0;
      for (int k = 0; k < spec.steps(); k++) {
        String name = "pipe.latents.step" + k;
        worst = Math.max(worst, relErr(plainHalf.tensors.get(name), r.tensors.get(name)));
      }
      double vsFloat32 = relErr(plainFull.tensors.get("pipe.image"), r.tensors.get("pipe.image"));
      System.out.printf(
          "fp16, fp8 checkpoint, streamed: latents rel L2 vs plain fp16 %.2e, image vs fp32 %.2e,"
              + " %d B/step%n",
          worst, vsFloat32, g.bytesMovedPerStep()[0]);
      assertTrue(worst <= 1e-3, "fp16 latents rel L2 " + worst);
      assertTrue(vsFloat32 <= 2e-2, "fp16 image vs fp32 rel L2 " + vsFloat32);
      // float8 weights travel as one byte each, the bf16 rest in float16
      try (TensorStore store = fp8.openTransformer()) {
        long want = 0;
        for (String name : store.names()) {
          if (streamed(name, "double_blocks.", 1) || streamed(name, "single_blocks.", 0)) {
            TensorEntry e = store.entry(name);
            want += e.elements() * (e.dtype() == DType.F8_E4M3 ? 1 : 2);
          }
        }
        assertEquals(want, g.bytesMovedPerStep()[0]);
      }
    }
  }

  @Test
  void badPlanListsAreRefused() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            PlannedPipeline.load(
                model, ComputeTarget.cpu(), List.of(), ExecutionOptions.defaults()));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                PlannedPipeline.load(
                    model,
                    ComputeTarget.cpu(),
                    List.of(ExecutionPlan.allResident(GIB), ExecutionPlan.allResident(2 * GIB)),
                    ExecutionOptions.defaults()));
    assertTrue(e.getMessage().contains("one device budget"), e.getMessage());
    IllegalArgumentException tile =
        assertThrows(IllegalArgumentException.class, () -> plan("x", 0, 0, false, 2, 0, GIB));
    assertTrue(tile.getMessage().contains("vaeTile"), tile.getMessage());
    assertThrows(IllegalArgumentException.class, () -> plan("x", -1, 0, false, 0, 0, GIB));
    assertThrows(IllegalArgumentException.class, () -> plan("x", 0, 0, false, 0, -3, GIB));
    assertThrows(IllegalArgumentException.class, () -> plan("x", 0, 0, false, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> plan(" ", 0, 0, false, 0, 0, GIB));
  }
}
