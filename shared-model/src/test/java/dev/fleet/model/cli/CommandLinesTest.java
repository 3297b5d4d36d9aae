package dev.fleet.model.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** Parse errors of every fleet command line, said one way, naming the option. */
class CommandLinesTest {
  @Command(name = "demo", description = "A command for the test.")
  static final class Demo {
    @Mixin HelpOption help = new HelpOption();

    @Option(names = "--size", paramLabel = "N", required = true, description = "a size")
    String size;

    @Option(names = "--even", paramLabel = "N", converter = Even.class, description = "even")
    int even;

    @Option(names = "--tag", paramLabel = "T", description = "repeatable")
    List<String> tags = new ArrayList<>();
  }

  static final class Even implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      int n = Integer.parseInt(value);
      if (n % 2 != 0) {
        throw new TypeConversionException("must be even, got " + n);
      }
      return n;
    }
  }

  private static String refused(boolean repeatsOverwrite, String... argv) {
    return assertThrows(
            IllegalArgumentException.class,
            () -> CommandLines.parse(new Demo(), repeatsOverwrite, argv))
        .getMessage();
  }

  @Test
  void errorsNameTheOption() {
    assertEquals(
        "unknown option --colour (known: --even, --size, --tag)",
        refused(false, "--size", "1", "--colour=red"));
    assertEquals("--size needs a value", refused(false, "--size"));
    assertEquals("missing required option --size", refused(false, "--even", "2"));
    assertEquals("--size given twice", refused(false, "--size", "1", "--size", "2"));
    assertEquals("unexpected argument 'stray'", refused(false, "--size", "1", "stray"));
    assertEquals("--even must be even, got 3", refused(false, "--size", "1", "--even", "3"));
  }

  @Test
  void valuesParseInBothSpellingsAndRepeat() {
    Demo d = new Demo();
    CommandLines.parse(d, true, "--size=8GiB", "--even", "4", "--tag", "a", "--tag=b:0.5");
    assertEquals("8GiB", d.size);
    assertEquals(4, d.even);
    assertEquals(List.of("a", "b:0.5"), d.tags);
    Demo again = new Demo();
    CommandLines.parse(again, true, "--size", "1", "--size", "2");
    assertEquals("2", again.size, "a later value replaces an earlier one where allowed");
  }

  @Test
  void helpIsGeneratedAndSkipsRequiredOptions() {
    assertTrue(CommandLines.parse(new Demo(), false, "--help").isUsageHelpRequested());
    String usage = CommandLines.usage(new Demo());
    assertTrue(usage.contains("Usage: demo"), usage);
    assertTrue(usage.contains("--size=N"), usage);
    assertTrue(usage.contains("A command for the test."), usage);
  }
}
