package dev.fleet.stack;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The stack's command-line options ({@code --data}, {@code --kafka-port}, {@code --postgres-port},
 * {@code --s3-port}), shared by {@code ./fleet stack} and {@code ./fleet up} as a picocli mixin.
 */
public final class StackOptions {
  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "data directory, kept between runs (default ./.fleet)")
  Path data = StackConfig.DEFAULT_DATA_DIR;

  @Option(
      names = "--kafka-port",
      paramLabel = "N",
      converter = PortConverter.class,
      description = "Kafka client port (default 9092; 0 = any free port)")
  int kafkaPort = StackConfig.DEFAULT_KAFKA_PORT;

  @Option(
      names = "--postgres-port",
      paramLabel = "N",
      converter = PortConverter.class,
      description = "PostgreSQL port (default 15432)")
  int postgresPort = StackConfig.DEFAULT_POSTGRES_PORT;

  @Option(
      names = "--s3-port",
      paramLabel = "N",
      converter = PortConverter.class,
      description = "S3 endpoint port (default 9000)")
  int s3Port = StackConfig.DEFAULT_S3_PORT;

  /** The stack these options describe, the rest as {@link StackConfig#defaults()}. */
  public StackConfig config() {
    return StackConfig.defaults().withDataDir(data).withPorts(kafkaPort, postgresPort, s3Port);
  }
}
