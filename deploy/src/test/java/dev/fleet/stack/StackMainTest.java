package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class StackMainTest {

  @Test
  void defaults() {
    StackConfig c = StackMain.parse(new String[0]);
    assertEquals(Path.of(".fleet"), c.dataDir());
    assertEquals(9092, c.kafkaPort());
    assertEquals(15432, c.postgresPort());
    assertEquals(9000, c.s3Port());
    assertEquals("fleet", c.s3AccessKey());
    assertEquals("fleet-secret-key", c.s3SecretKey());
    assertEquals("fleet-images", c.s3Bucket());
  }

  @Test
  void options() {
    StackConfig c =
        StackMain.parse(
            new String[] {
              "--data",
              "/tmp/x",
              "--kafka-port",
              "0",
              "--postgres-port",
              "5433",
              "--s3-port",
              "9001"
            });
    assertEquals(Path.of("/tmp/x"), c.dataDir());
    assertEquals(0, c.kafkaPort());
    assertEquals(5433, c.postgresPort());
    assertEquals(9001, c.s3Port());
  }

  @Test
  void theUsersDataDirectoryReplacesTheLaunchersDefault() {
    // ./fleet stack passes --data .fleet before the user's own options.
    StackConfig c = StackMain.parse(new String[] {"--data", "/r/.fleet", "--data", "/tmp/y"});
    assertEquals(Path.of("/tmp/y"), c.dataDir());
  }

  @Test
  void badArguments() {
    assertNull(StackMain.parse(new String[] {"--help"}));
    assertThrows(IllegalArgumentException.class, () -> StackMain.parse(new String[] {"--data"}));
    assertThrows(
        IllegalArgumentException.class, () -> StackMain.parse(new String[] {"--s3-port", "x"}));
    assertThrows(
        IllegalArgumentException.class,
        () -> StackMain.parse(new String[] {"--kafka-port", "70000"}));
    assertThrows(
        IllegalArgumentException.class, () -> StackMain.parse(new String[] {"--what", "1"}));
  }
}
