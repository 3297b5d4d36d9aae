package dev.fleet.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.nextdit.NewbieFp8Image;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.model.GenerationSpec;
import dev.fleet.model.memory.StorageType;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A worker told {@code fleet.worker.dit-storage=fp8} for the newbie-tiny fixture's float32
 * checkpoint: it admits jobs by a plan with fp8 blocks (a smaller predicted peak than the native
 * one's) and its pipeline narrows the blocks, so its image is within fp8's bounds of expected.png
 * (mean absolute difference ≤ 4 levels, PSNR ≥ 30 dB, as PlannedNewbiePipelineTest's fp8 test) and
 * not the 16-bit image.
 */
@QuarkusTest
@TestProfile(WorkerNewbieFp8Test.NewbieFp8.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class WorkerNewbieFp8Test {

  public static class NewbieFp8 implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of(
          "fleet.worker.model-dir",
          WorkerNewbieTest.FIXTURE.toString(),
          "fleet.worker.model-name",
          "newbie-tiny",
          "fleet.worker.memory-class",
          WorkerNewbieTest.CLASS.className(),
          "fleet.worker.dit-storage",
          "fp8");
    }
  }

  @Inject ModelRuntime model;

  @Test
  void theBlocksArePlannedAndLoadedAsFp8() throws Exception {
    MemoryAdmission fp8 = model.admission();
    assertEquals(StorageType.FP8, fp8.ditStorage());
    MemoryAdmission asStored =
        new MemoryAdmission(
            fp8.model(), StorageType.FP16, fp8.budgetBytes(), fp8.hardware(), fp8.engine());
    JsonNode c =
        new ObjectMapper().readTree(WorkerNewbieTest.FIXTURE.resolve("case.json").toFile());
    GenerationSpec spec =
        new GenerationSpec(
            c.get("prompt").asText(),
            c.get("seed").asLong(),
            c.get("steps").asInt(),
            c.get("width").asInt(),
            c.get("height").asInt(),
            c.get("cfg_scale").asDouble(),
            "newbie-tiny",
            List.of(),
            c.get("negative_prompt").asText(),
            c.get("cfg_trunc").asDouble());
    long fp8Peak = fp8.plan(spec.width(), spec.height()).chosen().predictedPeakBytes();
    long nativePeak = asStored.plan(spec.width(), spec.height()).chosen().predictedPeakBytes();
    assertTrue(fp8Peak < nativePeak, fp8Peak + " B vs " + nativePeak + " B");

    System.out.printf(
        "worker, fleet.worker.dit-storage=fp8: predicted peak %d B (native %d B)%n",
        fp8Peak, nativePeak);
    NewbieFp8Image.assertClose(
        model.pipeline().generate(spec, GenerationListener.NONE).image().png(),
        "the worker's job with fleet.worker.dit-storage=fp8");
  }
}
