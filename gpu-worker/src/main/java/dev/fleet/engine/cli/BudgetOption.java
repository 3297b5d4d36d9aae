package dev.fleet.engine.cli;

import dev.fleet.model.memory.ByteSize;
import picocli.CommandLine.Option;

/** {@code --budget SIZE}: the device memory a command plans under (a picocli mixin). */
final class BudgetOption {
  @Option(
      names = "--budget",
      paramLabel = "SIZE",
      required = true,
      description = "the device budget: 8GiB, 512MiB, 12G, or bytes")
  String size;

  /**
   * The budget in bytes.
   *
   * @param command the command's name, for the message when the size does not parse
   */
  long bytes(String command) {
    try {
      return ByteSize.parse(size);
    } catch (IllegalArgumentException e) {
      throw new UsageException(command + ": --budget: " + e.getMessage());
    }
  }
}
