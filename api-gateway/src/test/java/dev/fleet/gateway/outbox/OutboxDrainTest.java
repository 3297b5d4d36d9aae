package dev.fleet.gateway.outbox;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.MemoryClass;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.NewJob;
import dev.fleet.stack.FleetStackTestResource;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A stopping gateway sends what is left in its outbox before it exits. Its own application (a
 * profile), because the relay is stopped for good; the relay looks at the table only once an hour
 * here, so the row written straight to the store waits for the drain.
 */
@QuarkusTest
@TestProfile(OutboxDrainTest.RareRounds.class)
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class OutboxDrainTest {
  public static class RareRounds implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("fleet.outbox.poll-interval", "1h");
    }
  }

  @Inject JobStore store;
  @Inject AgroalDataSource dataSource;
  @Inject OutboxRelayService relay;

  @Test
  void theOutboxIsDrainedOnShutdown() throws Exception {
    // Written without the submission's nudge: no round of the relay comes for it.
    UUID id = UUID.randomUUID();
    store.insert(
        new NewJob(
            id,
            "drain",
            null,
            null,
            new GenerationSpec("drained", 1, 4, 128, 96, 3.5, "flux-tiny"),
            MemoryClass.VRAM_8G,
            1 << 29));
    Thread.sleep(500);
    assertNull(sentAt(id), "not sent by a round");

    relay.stop(null);

    // Marked sent once the broker acknowledged it (acks=all).
    assertNotNull(sentAt(id), "sent before the gateway exits");
  }

  private OffsetDateTime sentAt(UUID id) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT sent_at FROM outbox WHERE message_key = ? ORDER BY id")) {
      ps.setString(1, id.toString());
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        return rs.getObject(1, OffsetDateTime.class);
      }
    }
  }
}
