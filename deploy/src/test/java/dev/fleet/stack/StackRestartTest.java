package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A second stack on the first one's data directory finds what the first one stored. */
class StackRestartTest {

  @BeforeAll
  static void quiet() {
    QuietLogging.services();
  }

  @Test
  void dataSurvivesARestart(@TempDir Path dataDir) throws Exception {
    byte[] image = "not really a png".getBytes(StandardCharsets.UTF_8);
    String clusterId;

    try (EmbeddedStack stack = EmbeddedStack.start(StackConfig.withFreePorts(dataDir))) {
      StackEndpoints e = stack.endpoints();
      try (Connection c = StackClients.jdbc(e);
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, state TEXT NOT NULL)");
        s.execute("INSERT INTO jobs VALUES ('job-1', 'SUCCEEDED')");
      }
      StackClients.putObject(e, "results/job-1.png", image, "image/png");
      StackClients.produce(e, "job-events", "job-1", "SUCCEEDED");
      clusterId = clusterId(dataDir);
    }

    try (EmbeddedStack stack = EmbeddedStack.start(StackConfig.withFreePorts(dataDir))) {
      StackEndpoints e = stack.endpoints();
      try (Connection c = StackClients.jdbc(e);
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT state FROM jobs WHERE id = 'job-1'")) {
        assertTrue(rs.next());
        assertEquals("SUCCEEDED", rs.getString(1));
      }
      assertArrayEquals(image, StackClients.getObject(e, "results/job-1.png"));
      var records = StackClients.consume(e, "job-events", 1, Duration.ofSeconds(30));
      assertEquals(1, records.size());
      assertEquals("job-1", records.getFirst().key());
      assertEquals("SUCCEEDED", records.getFirst().value());
      assertEquals(clusterId, clusterId(dataDir), "Kafka must not be formatted again");
    }
  }

  private static String clusterId(Path dataDir) throws Exception {
    return Files.readAllLines(dataDir.resolve("kafka/meta.properties")).stream()
        .filter(l -> l.startsWith("cluster.id="))
        .findFirst()
        .orElseThrow();
  }
}
