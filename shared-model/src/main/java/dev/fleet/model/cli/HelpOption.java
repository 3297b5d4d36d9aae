package dev.fleet.model.cli;

import picocli.CommandLine.Option;

/** {@code -h}/{@code --help} for every command, as a picocli mixin: the generated help. */
public final class HelpOption {
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Shows this help and exits.")
  boolean help;
}
