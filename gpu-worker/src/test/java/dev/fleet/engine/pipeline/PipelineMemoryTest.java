package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * One loaded pipeline serving 100 jobs: no array outlives its job (model managers are capped, so a
 * stray allocation on them fails), and the process's resident memory levels off.
 */
class PipelineMemoryTest {

  @Test
  void hundredGenerationsLeakNeitherArraysNorNativeMemory() throws Exception {
    try (FluxPipeline pipeline =
        FluxPipeline.load(ModelDirectory.resolve(Fixtures.MODEL, null), ComputeTarget.cpu())) {
      long afterWarmup = 0;
      for (int i = 0; i < 100; i++) {
        pipeline.generate(
            new GenerationSpec("leak check " + i, i, 2, 64, 64, 3.5, "flux-tiny"),
            GenerationListener.NONE);
        assertEquals(0, pipeline.liveJobArrays(), "arrays left after job " + i);
        if (i == 19) {
          System.gc();
          afterWarmup = rssKb();
        }
      }
      System.gc();
      long end = rssKb();
      long growthKb = end - afterWarmup;
      System.out.printf(
          "RSS after 20 jobs %d kB, after 100 jobs %d kB, growth %d kB%n",
          afterWarmup, end, growthKb);
      // Leaked tensors are caught exactly by the array count above; this bound catches native
      // memory that DJL does not account for (buffers, tokenizer handles, mapped weights).
      assertTrue(growthKb < 48 * 1024, "RSS grew by " + growthKb + " kB over 80 jobs");
    }
  }

  private static long rssKb() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }
}
