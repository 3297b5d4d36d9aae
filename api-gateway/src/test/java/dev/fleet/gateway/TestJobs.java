package dev.fleet.gateway;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import java.util.UUID;

/** Jobs written straight to the store, as if a gateway had accepted them. */
final class TestJobs {
  private TestJobs() {}

  static GenerationSpec spec(int steps) {
    return new GenerationSpec("a red fox", 1234, steps, 128, 96, 3.5, "flux-tiny");
  }

  static Job queued(JobStore store, String tenant, int steps) {
    NewJob job =
        new NewJob(
            UUID.randomUUID(), tenant, null, null, spec(steps), MemoryClass.VRAM_8G, 1 << 29);
    return store.insert(job).job();
  }

  static Job queued(JobStore store) {
    return queued(store, "store-test", 4);
  }
}
