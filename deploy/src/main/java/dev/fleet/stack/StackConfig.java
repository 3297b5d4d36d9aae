package dev.fleet.stack;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What the local stack needs to start: where its data lives and which ports it takes (0 means a
 * free port chosen at start). The data directory holds {@code kafka/}, {@code postgres/} and {@code
 * s3/}; pointing a new stack at the same directory finds the earlier data again.
 */
public record StackConfig(
    Path dataDir,
    int kafkaPort,
    int postgresPort,
    int s3Port,
    String s3AccessKey,
    String s3SecretKey,
    String s3Bucket) {
  public static final Path DEFAULT_DATA_DIR = Path.of(".fleet");
  public static final int DEFAULT_KAFKA_PORT = 9092;
  // Not 5432: a system PostgreSQL may already be listening there.
  public static final int DEFAULT_POSTGRES_PORT = 15432;
  public static final int DEFAULT_S3_PORT = 9000;

  public StackConfig {
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(s3AccessKey, "s3AccessKey");
    Objects.requireNonNull(s3SecretKey, "s3SecretKey");
    Objects.requireNonNull(s3Bucket, "s3Bucket");
  }

  /** The stack of {@code ./fleet up}: {@code ./.fleet}, ports 9092, 15432 and 9000. */
  public static StackConfig defaults() {
    return new StackConfig(
        DEFAULT_DATA_DIR,
        DEFAULT_KAFKA_PORT,
        DEFAULT_POSTGRES_PORT,
        DEFAULT_S3_PORT,
        EmbeddedS3.DEFAULT_ACCESS_KEY,
        EmbeddedS3.DEFAULT_SECRET_KEY,
        EmbeddedS3.DEFAULT_BUCKET);
  }

  /** A stack on {@code dataDir} with free ports, for tests and throw-away fleets. */
  public static StackConfig withFreePorts(Path dataDir) {
    return defaults().withDataDir(dataDir).withPorts(0, 0, 0);
  }

  public StackConfig withDataDir(Path dir) {
    return new StackConfig(
        dir, kafkaPort, postgresPort, s3Port, s3AccessKey, s3SecretKey, s3Bucket);
  }

  public StackConfig withPorts(int kafka, int postgres, int s3) {
    return new StackConfig(dataDir, kafka, postgres, s3, s3AccessKey, s3SecretKey, s3Bucket);
  }
}
