package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./fleet keys}: its command line, and what it says when no fleet runs. */
class KeysMainTest {
  @Test
  void theThreeCommandsParse() {
    KeysMain.Args create =
        KeysMain.parse(new String[] {"create", "--tenant", "alice", "--admin", "--name", "ci"});
    assertEquals("create", create.command());
    assertEquals("alice", create.tenant());
    assertTrue(create.admin());
    assertEquals("ci", create.name());
    assertEquals("list", KeysMain.parse(new String[] {"list"}).command());
    KeysMain.Args revoke = KeysMain.parse(new String[] {"revoke", "abc123def456", "--data", "/x"});
    assertEquals("abc123def456", revoke.id());
    assertEquals(Path.of("/x"), revoke.data());
  }

  @Test
  void theDataDirectoryTheLauncherPassesFirstIsTheDefault() {
    KeysMain.Args a =
        KeysMain.parse(new String[] {"--data", "/root/.fleet", "create", "--tenant", "alice"});
    assertEquals(Path.of("/root/.fleet"), a.data());
    KeysMain.Args b =
        KeysMain.parse(new String[] {"--data", "/root/.fleet", "revoke", "abc", "--data", "/y"});
    assertEquals(Path.of("/y"), b.data(), "the user's own --data wins");
    assertEquals("abc", b.id());
  }

  @Test
  void helpIsGeneratedForTheCommandAndEachSubcommand() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(
        0,
        KeysMain.run(
            new String[] {"--help"},
            new PrintStream(out, true),
            new PrintStream(new ByteArrayOutputStream())));
    String help = out.toString(StandardCharsets.UTF_8);
    for (String word : new String[] {"create", "list", "revoke", "--data", "--jdbc-url"}) {
      assertTrue(help.contains(word), word + " in:\n" + help);
    }
    KeysMain.Args create = KeysMain.parse(new String[] {"create", "--help"});
    assertTrue(create.help());
    assertTrue(create.helpText().contains("--tenant"), create.helpText());
    assertTrue(create.helpText().contains("./fleet keys create"), create.helpText());
  }

  @Test
  void badCommandLinesNameWhatIsWrong() {
    for (String[] bad :
        new String[][] {
          {},
          {"create"},
          {"create", "--tenant", "../etc"},
          {"create", "--tenant", ""},
          {"create", "--tenant"},
          {"revoke"},
          {"revoke", "a", "b"},
          {"list", "--admin"},
          {"drop"},
          {"create", "--tenant", "a", "--force"}
        }) {
      assertThrows(KeysMain.UsageException.class, () -> KeysMain.parse(bad), String.join(" ", bad));
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      assertEquals(
          2,
          KeysMain.run(
              bad, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true)));
      assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage:"));
    }
  }

  @Test
  void withoutARunningFleetItSaysSo(@TempDir Path data) throws Exception {
    Files.createDirectories(data.resolve("postgres"));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        KeysMain.run(
            new String[] {"create", "--tenant", "t", "--data", data.toString()},
            new PrintStream(new ByteArrayOutputStream()),
            new PrintStream(err, true));
    assertEquals(1, status);
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("no fleet is running"), err.toString());
  }
}
