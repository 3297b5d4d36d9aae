package dev.fleet.gateway;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.Job;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/** Jobs written straight to the store, as if a gateway had accepted them. */
final class TestJobs {
  private TestJobs() {}

  static GenerationSpec spec(int steps) {
    return new GenerationSpec("a red fox", 1234, steps, 128, 96, 3.5, "flux-tiny");
  }

  static NewJob newJob(String tenant) {
    return new NewJob(UUID.randomUUID(), tenant, null, null, spec(4), MemoryClass.VRAM_8G, 1 << 29);
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

  /**
   * Lets workers take, in queue order, every job queued ahead of {@code job} in its class (left
   * over by earlier tests): {@code job} is then at the head, position 1.
   */
  static void takeJobsAhead(JobStore store, DataSource dataSource, Job job) {
    List<UUID> ahead = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT id FROM jobs WHERE state = 'QUEUED' AND memory_class = ?"
                    + " AND queue_ticket < (SELECT queue_ticket FROM jobs WHERE id = ?)"
                    + " ORDER BY queue_ticket")) {
      ps.setString(1, job.memoryClass().className());
      ps.setObject(2, job.id());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ahead.add(rs.getObject(1, UUID.class));
        }
      }
    } catch (SQLException e) {
      throw new AssertionError(e);
    }
    for (UUID id : ahead) {
      store.markRunning(id, "test-worker", store.find(id).orElseThrow().attempts());
    }
  }
}
