package dev.fleet.engine.cli;

import java.io.IOException;

/** One {@code ./fleet engine} command, its options parsed into its fields by picocli. */
interface EngineCommand {
  /** Runs the command; returns the exit status (0 done, 2 a wrong input, 1 a failed run). */
  int run() throws IOException;
}
