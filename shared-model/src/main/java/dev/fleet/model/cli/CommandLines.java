package dev.fleet.model.cli;

import java.util.List;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The project's command lines on picocli: parsing into a command's annotated fields, its generated
 * help, and a command line picocli could not parse said the way every fleet command says it: the
 * option at fault first, then what is wrong ({@code unknown option --colour (known: ...)}, {@code
 * --seed needs a value}, {@code missing required option --budget}, {@code --steps given twice},
 * {@code unexpected argument 'x'}; a converter's {@link TypeConversionException} after the option's
 * name: {@code --kafka-port needs a port number}). Used by the engine's CLI and the launcher's
 * commands alike.
 */
public final class CommandLines {
  private CommandLines() {}

  /**
   * Parses {@code argv} into {@code command}'s annotated fields.
   *
   * @param repeatsOverwrite whether an option given again replaces its value (the launcher's
   *     commands, to which {@code ./fleet} passes defaults before the user's options) or is an
   *     error (the engine's)
   * @return the parsed command line ({@link CommandLine#isUsageHelpRequested()} for {@code --help})
   * @throws IllegalArgumentException with {@link #describe}'s message
   */
  public static CommandLine parse(Object command, boolean repeatsOverwrite, String... argv) {
    CommandLine line = new CommandLine(command).setOverwrittenOptionsAllowed(repeatsOverwrite);
    try {
      line.parseArgs(argv);
    } catch (ParameterException e) {
      throw new IllegalArgumentException(describe(e), e);
    }
    return line;
  }

  /** {@code command}'s help, generated from its annotations. */
  public static String usage(Object command) {
    return new CommandLine(command).getUsageMessage();
  }

  /** The message for {@code e}; picocli's own for the cases above none fits. */
  public static String describe(ParameterException e) {
    if (e instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String first = u.getUnmatched().get(0);
      if (first.length() > 1 && first.startsWith("-")) {
        int eq = first.indexOf('=');
        String name = eq > 0 ? first.substring(0, eq) : first;
        return "unknown option " + name + " (known: " + known(u.getCommandLine()) + ")";
      }
      return "unexpected argument '" + first + "'";
    }
    if (e instanceof MissingParameterException m && !m.getMissing().isEmpty()) {
      if (m.getMissing().get(0) instanceof OptionSpec o) {
        return e.getMessage().startsWith("Missing required option")
            ? "missing required option " + o.longestName()
            : o.longestName() + " needs a value";
      }
      return "missing " + m.getMissing().get(0).paramLabel();
    }
    if (e.getCause() instanceof TypeConversionException bad
        && e.getArgSpec() instanceof OptionSpec o) {
      String name = o.longestName();
      return bad.getMessage().startsWith(name) ? bad.getMessage() : name + " " + bad.getMessage();
    }
    if (e instanceof OverwrittenOptionException o
        && o.getOverwritten() instanceof OptionSpec spec) {
      return spec.longestName() + " given twice";
    }
    return e.getMessage();
  }

  /** The command's options, long names, sorted. */
  private static String known(CommandLine command) {
    TreeSet<String> names = new TreeSet<>();
    List<OptionSpec> options = command.getCommandSpec().options();
    for (OptionSpec o : options) {
      if (!o.usageHelp() && !o.hidden()) {
        names.add(o.longestName());
      }
    }
    return String.join(", ", names);
  }
}
