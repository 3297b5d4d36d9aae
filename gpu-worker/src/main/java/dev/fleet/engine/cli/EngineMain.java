package dev.fleet.engine.cli;

import dev.fleet.engine.safetensors.SafetensorsException;
import dev.fleet.model.cli.CommandLines;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * {@code ./fleet engine ...}: the engine without the fleet, one {@link EngineCommand} per
 * subcommand ({@code generate}, {@code parity}, {@code plan}, {@code bench}), its options parsed by
 * picocli. Exit codes: 0 done, 2 the command line or an input file is wrong (the message says
 * which), 1 the run itself failed.
 */
public final class EngineMain {
  /** The subcommands, in the order the help lists them. */
  private static final List<String> COMMANDS = List.of("generate", "parity", "plan", "bench");

  private final PrintStream out;
  private final PrintStream err;

  /** The CLI writing its results to {@code out} and its messages to {@code err}. */
  public EngineMain(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  /** Held so that the level set on it is not garbage-collected with the logger. */
  private static final java.util.logging.Logger DJL_LOG =
      java.util.logging.Logger.getLogger("ai.djl");

  public static void main(String[] argv) {
    // DJL's start-up chatter (engine, threads, a CUDA probe on CPU machines) is not the user's
    // news.
    DJL_LOG.setLevel(java.util.logging.Level.SEVERE);
    System.exit(new EngineMain(System.out, System.err).run(argv));
  }

  /**
   * Runs one command line, as {@code ./fleet engine ARGS} does, without exiting (other modules'
   * tests compare their results with the CLI's).
   *
   * @return the exit status
   */
  public int run(String... argv) {
    if (argv.length == 0
        || argv[0].equals("help")
        || argv[0].equals("--help")
        || argv[0].equals("-h")) {
      out.print(usage());
      return 0;
    }
    String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
    try {
      EngineCommand command = command(argv[0]);
      try {
        if (CommandLines.parse(command, false, rest).isUsageHelpRequested()) {
          out.print(CommandLines.usage(command));
          return 0;
        }
      } catch (IllegalArgumentException e) {
        throw new UsageException(argv[0] + ": " + e.getMessage());
      }
      return command.run();
    } catch (UsageException | IllegalArgumentException | SafetensorsException e) {
      err.println("engine: " + e.getMessage());
      return 2;
    } catch (RuntimeException | IOException e) {
      err.println("engine: failed: " + e);
      if (System.getenv("FLEET_DEBUG") != null) {
        e.printStackTrace(err);
      }
      return 1;
    }
  }

  private EngineCommand command(String name) {
    return switch (name) {
      case "generate" -> new GenerateCommand(out, err);
      case "parity" -> new ParityCommand(out);
      case "plan" -> new PlanCommand(out, err);
      case "bench" -> new BenchCommand(out, err);
      default ->
          throw new UsageException(
              "unknown engine command '" + name + "' (try: ./fleet engine help)");
    };
  }

  /** Every subcommand's generated help, under one heading. */
  private String usage() {
    StringBuilder s =
        new StringBuilder(
            "Usage: ./fleet engine COMMAND [OPTIONS]   (./fleet engine COMMAND --help: one"
                + " command)\n"
                + "The engine without the fleet. Exit status: 0 done, 1 the run failed, 2 the\n"
                + "command line or an input file is wrong.\n");
    for (String name : COMMANDS) {
      s.append('\n').append(CommandLines.usage(command(name)));
    }
    return s.toString();
  }
}
