package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A stack that cannot start fully says why and leaves none of its services running. */
class StackStartFailureTest {

  @BeforeAll
  static void quiet() {
    QuietLogging.services();
  }

  @Test
  void takenPortFailsTheStartBeforeAnythingRuns(@TempDir Path dataDir) throws Exception {
    int kafkaPort = Ports.free();
    int s3Port = Ports.free();
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      StackConfig config =
          StackConfig.withFreePorts(dataDir).withPorts(kafkaPort, taken.getLocalPort(), s3Port);

      IOException e = assertThrows(IOException.class, () -> EmbeddedStack.start(config));

      String reason = e.getMessage();
      assertTrue(
          reason.contains("PostgreSQL port " + taken.getLocalPort() + " is already in use"),
          reason);
    }
    // Nothing was left running.
    Ports.checkFree(kafkaPort, "Kafka");
    Ports.checkFree(s3Port, "S3");
  }

  @Test
  void aServiceThatFailsStopsTheOthers(@TempDir Path dataDir) throws Exception {
    int kafkaPort = Ports.free();
    int postgresPort = Ports.free();
    // A file where the S3 data directory should be: S3 fails, PostgreSQL and Kafka start.
    Files.writeString(dataDir.resolve("s3"), "in the way");
    // Fixed ports: one attempt (a start on free ports would be tried again on other ports).
    StackConfig config =
        StackConfig.withFreePorts(dataDir).withPorts(kafkaPort, postgresPort, Ports.free());

    IOException e = assertThrows(IOException.class, () -> EmbeddedStack.start(config));

    assertTrue(e.getMessage().startsWith("the local stack did not start"), e.getMessage());
    // The message itself says what failed, for logs that show no stack trace.
    assertTrue(e.getMessage().contains("FileAlreadyExistsException"), e.getMessage());
    assertInstanceOf(FileAlreadyExistsException.class, e.getCause());
    Ports.checkFree(kafkaPort, "Kafka");
    Ports.checkFree(postgresPort, "PostgreSQL");
  }
}
