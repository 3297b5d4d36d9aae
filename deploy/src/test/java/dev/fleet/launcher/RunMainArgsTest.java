package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code ./fleet run}'s command line: what it sends, and exit status 2 naming the bad option. */
class RunMainArgsTest {

  @Test
  void fullCommandLine() {
    RunMain.Args a =
        RunMain.parse(
            new String[] {
              "--root",
              "/r",
              "--model-dir",
              "/m",
              "a red fox",
              "--seed",
              "1234",
              "--steps",
              "4",
              "--width",
              "128",
              "--height=96",
              "--guidance",
              "3.5",
              "--model",
              "flux-tiny",
              "-o",
              "fox.png",
              "--timeout",
              "30"
            });
    assertEquals("a red fox", a.prompt());
    assertEquals(1234L, a.seed());
    assertEquals(4, a.steps());
    assertEquals(128, a.width());
    assertEquals(96, a.height());
    assertEquals(3.5, a.guidance());
    assertEquals("flux-tiny", a.model());
    assertEquals(Path.of("fox.png"), a.out());
    assertEquals(Duration.ofSeconds(30), a.timeout());
    assertEquals(Path.of("/r"), a.root());
    assertEquals(Path.of("/m"), a.modelDir());
    assertEquals(
        "{\"prompt\":\"a red fox\",\"seed\":1234,\"steps\":4,\"width\":128,\"height\":96,"
            + "\"guidance\":3.5,\"model\":\"flux-tiny\"}",
        a.body().toString());
  }

  @Test
  void lorasAreRepeatableWithStrengthOneByDefault() {
    RunMain.Args a =
        RunMain.parse(
            new String[] {
              "a fox", "--lora", "style:0.7", "--lora=detail", "--lora", "odd:name:-0.25"
            });
    assertEquals(
        "{\"prompt\":\"a fox\",\"loras\":[{\"name\":\"style\",\"strength\":0.7},"
            + "{\"name\":\"detail\",\"strength\":1.0},"
            + "{\"name\":\"odd:name\",\"strength\":-0.25}]}",
        a.body().toString());
    assertEquals(new RunMain.Lora("a:b", 1.0), RunMain.Lora.parse("a:b"));
  }

  @Test
  void absentOptionsAreNotSent() {
    RunMain.Args a = RunMain.parse(new String[] {"just a prompt"});
    assertEquals("{\"prompt\":\"just a prompt\"}", a.body().toString());
    assertNull(a.out());
    assertEquals(RunMain.DEFAULT_TIMEOUT, a.timeout());
  }

  @Test
  void promptAfterDoubleDashMayStartWithADash() {
    assertEquals("-x-", RunMain.parse(new String[] {"--seed", "-1", "--", "-x-"}).prompt());
    assertEquals(-1L, RunMain.parse(new String[] {"p", "--seed", "-1"}).seed());
    assertEquals("via option", RunMain.parse(new String[] {"--prompt", "via option"}).prompt());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "''                                 | the prompt is missing",
        "--seed 1                           | the prompt is missing",
        "'   '                              | the prompt is empty",
        "a b                                | one prompt only",
        "p --seed                           | --seed needs a value",
        "p --seed abc                       | --seed needs an integer, got \"abc\"",
        "p --seed -2                        | --seed must be 0 to 4294967295",
        "p --seed 4294967296                | --seed must be 0 to 4294967295",
        "p --steps 0                        | --steps needs a positive integer",
        "p --steps 2.5                      | --steps needs an integer",
        "p --width -16                      | --width needs a positive integer",
        "p --height x                       | --height needs an integer",
        "p --width 100                      | --width must be a multiple of 16, got 100 (nearest: 96)",
        "p --height 7                       | --height must be a multiple of 16, got 7 (nearest: 16)",
        "p --guidance nan                   | --guidance needs a number",
        "p --guidance three                 | --guidance needs a number",
        "p --timeout 0                      | --timeout needs a positive integer",
        "p --colour red                     | unknown option --colour",
        "p --colour=red                     | unknown option --colour",
        "p -x                               | unknown option -x",
        "p -o /no/such/dir/x.png            | -o: directory /no/such/dir does not exist",
        "p --out /tmp                       | --out: /tmp is a directory",
      })
  void badArgumentsExitWith2NamingTheOption(String commandLine, String message) {
    String[] argv =
        commandLine.isEmpty()
            ? new String[0]
            : commandLine.isBlank() ? new String[] {commandLine} : commandLine.split(" ");
    var e = assertThrows(RunMain.UsageException.class, () -> RunMain.parse(argv));
    assertTrue(
        e.getMessage().contains(message), () -> "'" + e.getMessage() + "' lacks '" + message + "'");

    // The same through run(): exit status 2, the message and the usage on stderr, nothing on
    // stdout, and no fleet looked for (it fails before any network access).
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = RunMain.run(argv, print(out), print(err));
    assertEquals(2, status);
    assertEquals("", out.toString(StandardCharsets.UTF_8));
    String stderr = err.toString(StandardCharsets.UTF_8);
    assertTrue(stderr.startsWith("fleet run: "), stderr);
    assertTrue(stderr.contains(message), stderr);
    assertTrue(stderr.contains("usage: ./fleet run"), stderr);
  }

  @Test
  void helpGoesToStdoutWithStatus0() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(0, RunMain.run(new String[] {"--help"}, print(out), print(err)));
    String usage = out.toString(StandardCharsets.UTF_8);
    assertTrue(usage.contains("--guidance G"), usage);
    assertFalse(usage.isEmpty());
    assertEquals("", err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void outputFileInAnExistingDirectoryIsFine(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("x.png");
    assertEquals(file, RunMain.parse(new String[] {"p", "-o", file.toString()}).out());
    Files.writeString(file, "old"); // overwriting is fine too
    assertEquals(file, RunMain.parse(new String[] {"p", "--out=" + file}).out());
  }

  private static PrintStream print(ByteArrayOutputStream bytes) {
    return new PrintStream(bytes, true, StandardCharsets.UTF_8);
  }
}
